"""compare_runs: rows matched on identity (NaN param == NaN param), classified by metric direction."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from fpbench.reports.compare import compare_runs, format_comparison
from fpbench.results import row, to_frame

FP = "artificial_fingerprint"


def _one(metric: str, value: float, **kw) -> pd.DataFrame:
    return to_frame([row(method=FP, model="progan", metric=metric, value=value, n=10, **kw)])


class TestCompare:
    @pytest.mark.parametrize(
        ("metric", "old", "new", "change"),
        [
            ("bit_accuracy", 0.90, 0.95, "improved"),
            ("bit_accuracy", 0.95, 0.90, "worse"),
            ("bit_accuracy", 0.95, 0.95, "unchanged"),
            ("fid", 14.0, 20.0, "worse"),
            ("fid", 20.0, 14.0, "improved"),
            ("p_value", 1e-20, 1e-3, "worse"),
        ],
    )
    def test_direction_aware(self, metric, old, new, change):
        out = compare_runs(_one(metric, old), _one(metric, new))
        assert out["change"].tolist() == [change]
        assert out["delta"].iloc[0] == pytest.approx(new - old)

    def test_nan_param_rows_match(self, results):
        out = compare_runs(results, results)
        assert set(out["change"]) == {"unchanged"}
        assert len(out) == len(results)
        assert out["param"].isna().sum() == results["param"].isna().sum()

    def test_added_and_removed(self, results):
        new = results.iloc[1:]
        extra = to_frame([row(method="wang2020", model="progan", metric="detection_accuracy", value=0.9,
                              n=10, world="open")])
        out = compare_runs(results, pd.concat([new, extra], ignore_index=True))
        assert out["change"].value_counts().to_dict() == {"unchanged": len(results) - 1, "removed": 1,
                                                          "added": 1}
        removed = out[out["change"] == "removed"].iloc[0]
        assert removed["model"] == results.iloc[0]["model"] and math.isnan(removed["new"])

    def test_params_distinguish_rows(self, results):
        old = results[results["attack"] == "jpeg"]
        new = old.assign(param=old["param"] + 1.0)
        out = compare_runs(old, new)
        assert set(out["change"]) == {"added", "removed"}

    def test_format_lists_worse_first(self, results):
        new = results.copy()
        acc = (new["metric"] == "bit_accuracy") & (new["attack"] == "none") & (new["model"] == "progan")
        fid = (new["metric"] == "fid") & (new["model"] == "stylegan2")
        new.loc[acc, "value"] = 0.999  # improved
        new.loc[fid, "value"] = 30.0   # worse
        text = format_comparison(compare_runs(results, new))
        assert text.splitlines()[0].startswith("1 worse, 0 removed, 1 improved, 0 added,")
        body = text.splitlines()[4:]  # summary, blank, header, rule, then rows
        assert body[0].startswith("worse") and "stylegan2" in body[0] and "+" in body[0]
        assert body[1].startswith("improved")
        assert "unchanged" not in "\n".join(body)

    def test_format_nothing_moved(self, results):
        assert "no measurement moved" in format_comparison(compare_runs(results, results))


def _tpr_rows(values=(0.9, 0.7), fprs=(0.01, 0.001)) -> pd.DataFrame:
    """A clean TPR row and one under JPEG 50 at each operating point, both thresholds."""
    return to_frame([row(method=FP, model="progan", metric=metric, value=v, n=10, fpr=fpr, **level)
                     for metric in ("tpr_at_fpr", "tpr_at_fpr_analytic")
                     for v, fpr in zip(values, fprs, strict=True)
                     for level in ({}, {"attack": "jpeg", "attack_kind": "image", "param": 50.0, "severity": 0})])


class TestOperatingPoints:
    def test_fpr_is_an_identity_column(self):
        out = compare_runs(_tpr_rows(), _tpr_rows(values=(0.9, 0.5)))
        assert len(out) == 8 and "fpr" in out.columns
        worse = out[out["change"] == "worse"]
        assert len(worse) == 4 and set(worse["fpr"]) == {0.001} and set(worse["old"]) == {0.7}

    def test_other_operating_point_does_not_match(self):
        out = compare_runs(_tpr_rows(), _tpr_rows(fprs=(0.01, 0.05)))
        assert out["change"].value_counts().to_dict() == {"unchanged": 4, "removed": 4, "added": 4}

    def test_table_without_fpr_column_matches_nan(self, results):
        out = compare_runs(results.drop(columns="fpr").query("metric != 'tpr_at_fpr'"),
                           results.query("metric != 'tpr_at_fpr'"))
        assert set(out["change"]) == {"unchanged"}

    def test_format_names_the_operating_point(self):
        text = format_comparison(compare_runs(_tpr_rows(), _tpr_rows(values=(0.9, 0.5))))
        assert "tpr at fpr ↑ @FPR 0.001" in text and "tpr at fpr analytic ↑ @FPR 0.001" in text
