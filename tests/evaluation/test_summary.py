"""robustness_auc_rows on a hand-made table, checked against numpy's trapezoid."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fpbench.evaluation.summary import normalised_area, robustness_auc_rows
from fpbench.results import AGGREGATE_SEED, row, to_frame, validate

JPEG = ((90.0, 0.9), (50.0, 0.7), (10.0, 0.55))  # (quality, bit accuracy) per severity 0, 1, 2
CLEAN = {("fp", 0): 0.98, ("fp", 1): 0.96, ("other", 0): 0.9}


def _reference(clean: float, accs: list[float]) -> float:
    x = np.arange(len(accs) + 1, dtype=float)
    return float(np.trapezoid([clean, *accs], x) / x[-1])


def _table(*, with_other_clean: bool = True):
    rows = []
    for (method, seed), acc in CLEAN.items():
        if method == "other" and not with_other_clean:
            continue
        rows.append(row(method=method, model="progan", metric="bit_accuracy", value=acc, n=100 + seed,
                        stderr=0.01, seed=seed))
        rows.append(row(method=method, model="progan", metric="fid", value=12.0, n=100, seed=seed))
        for sev, (q, a) in enumerate(JPEG):
            rows.append(row(method=method, model="progan", attack="jpeg", attack_kind="image", param=q,
                            severity=sev, metric="bit_accuracy", value=a - 0.01 * seed, n=100, seed=seed,
                            attack_version=2))
            rows.append(row(method=method, model="progan", attack="jpeg", attack_kind="image", param=q,
                            severity=sev, metric="psnr", value=30.0, n=100, seed=seed, attack_version=2))
        rows.append(row(method=method, model="progan", attack="weight_noise", attack_kind="model", param=0.3,
                        severity=0, metric="bit_accuracy", value=0.6, n=100, seed=seed))
        rows.append(row(method=method, model="progan", attack="overwrite", attack_kind="adaptive", param=0.5,
                        severity=0, metric="bit_accuracy", value=0.5, n=100, seed=seed))
    rows.append(row(method="fp", model="progan", metric="bit_accuracy", value=0.97, n=201,
                    seed=AGGREGATE_SEED, ci=(0.95, 0.99)))
    rows.append(row(method="fp", model="progan", attack="jpeg", attack_kind="image", param=90.0, severity=0,
                    metric="bit_accuracy", value=0.0, n=200, seed=AGGREGATE_SEED, attack_version=2))
    return to_frame(rows)


class TestRobustnessAuc:
    def test_every_curve_with_a_clean_row(self):
        got = {(r.method, r.attack, r.seed): r for r in robustness_auc_rows(_table())}
        assert set(got) == {(m, a, s) for (m, s) in CLEAN for a in ("jpeg", "weight_noise")}

    @pytest.mark.parametrize(("method", "seed"), list(CLEAN))
    def test_jpeg_area_equals_numpy_trapezoid(self, method, seed):
        got = {(r.method, r.attack, r.seed): r for r in robustness_auc_rows(_table())}[(method, "jpeg", seed)]
        want = _reference(CLEAN[(method, seed)], [a - 0.01 * seed for _, a in JPEG])
        assert got.value == pytest.approx(want, abs=1e-12)
        assert (got.metric, got.attack_kind, got.severity, got.n, got.attack_version) == (
            "robustness_auc", "image", -1, 100 + seed, 2)
        assert math.isnan(got.param) and got.higher_is_better

    def test_single_level_grid_is_the_mean_of_clean_and_level(self):
        got = {(r.method, r.attack, r.seed): r for r in robustness_auc_rows(_table())}
        assert got[("fp", "weight_noise", 0)].value == pytest.approx(_reference(0.98, [0.6]))
        assert got[("fp", "weight_noise", 0)].value == pytest.approx((0.98 + 0.6) / 2)
        assert got[("fp", "weight_noise", 0)].attack_kind == "model"

    def test_curve_without_clean_row_is_skipped(self):
        got = robustness_auc_rows(_table(with_other_clean=False))
        assert {r.method for r in got} == {"fp"} and len(got) == 4

    def test_rows_form_a_valid_table(self):
        assert validate(to_frame(robustness_auc_rows(_table()))) == []

    def test_levels_sorted_by_severity(self):
        table = _table().sample(frac=1.0, random_state=0)
        got = {(r.method, r.attack, r.seed): r.value for r in robustness_auc_rows(table)}
        assert got[("fp", "jpeg", 0)] == pytest.approx(_reference(0.98, [0.9, 0.7, 0.55]))

    def test_gaps_in_severity_widen_the_x_axis(self):
        table = _table()
        kept = table[~((table["attack"] == "jpeg") & (table["severity"] == 1))]
        got = {(r.method, r.attack, r.seed): r.value for r in robustness_auc_rows(kept)}
        want = float(np.trapezoid([0.98, 0.9, 0.55], [0.0, 1.0, 3.0]) / 3.0)
        assert got[("fp", "jpeg", 0)] == pytest.approx(want)

    def test_duplicate_levels_are_refused(self):
        table = _table()
        dup = table[(table["attack"] == "jpeg") & (table["metric"] == "bit_accuracy")].iloc[:1]
        with pytest.raises(ValueError, match="several attacked"):
            robustness_auc_rows(pd.concat([table, dup.assign(attack_version=3)]))

    def test_empty_table(self):
        assert robustness_auc_rows(_table().iloc[:0]) == []

    def test_single_point_area_is_its_value(self):
        assert normalised_area([0.0], [0.7]) == 0.7
