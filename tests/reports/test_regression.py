"""Regression check: fails only on moves in the bad direction beyond tolerance and on missing rows."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from fpbench.reports.regression import check_reference, check_regression, load_reference, update_reference
from fpbench.results import IDENTITY, row, to_frame, write_results

FP = "artificial_fingerprint"
TOL = {"bit_accuracy": 0.01, "p_value": 0.01, "pass_rate": 0.01, "fid": 0.5, "detection_accuracy": 0.01,
       "attribution_accuracy": 0.01, "tpr_at_fpr": 0.01, "psnr": 0.1, "auc": 0.01}
TPR = {"model": "progan", "attack": "none", "metric": "tpr_at_fpr", "method": FP}


def _set(df: pd.DataFrame, value: float, **match) -> pd.DataFrame:
    df = df.copy()
    mask = pd.Series(True, index=df.index)
    for col, want in match.items():
        mask &= df[col] == want
    assert mask.sum() == 1, match
    df.loc[mask, "value"] = value
    return df


CLEAN_ACC = {"model": "progan", "attack": "none", "metric": "bit_accuracy"}
JPEG10 = {"model": "progan", "attack": "jpeg", "param": 10.0, "metric": "bit_accuracy", "method": FP}


class TestRegression:
    def test_identical_run_passes(self, results):
        report = check_regression(results, results, TOL)
        assert report.passed and set(report.rows["status"]) == {"within"}
        assert report.summary().startswith("regression check PASSED")

    @pytest.mark.parametrize(("value", "passed", "status"), [
        (0.960, False, "worse"),     # 0.98 -> 0.96: worse by 0.02 > 0.01
        (0.971, True, "within"),     # worse by 0.009: inside tolerance
        (0.970, True, "within"),     # exactly the tolerance passes
        (0.999, True, "improved"),   # better: reported, never failed
    ])
    def test_higher_is_better_metric(self, results, value, passed, status):
        report = check_regression(_set(results, value, **CLEAN_ACC), results, TOL)
        assert report.passed is passed
        moved = report.rows[(report.rows["model"] == "progan") & (report.rows["attack"] == "none")
                            & (report.rows["metric"] == "bit_accuracy")]
        assert moved["status"].tolist() == [status]

    @pytest.mark.parametrize(("value", "passed"), [(15.0, False), (13.0, True)])
    def test_lower_is_better_metric(self, results, value, passed):
        current = _set(results, value, model="progan", attack="none", metric="fid")
        report = check_regression(current, results, TOL)
        assert report.passed is passed

    def test_lists_exactly_the_rows_that_moved(self, results):
        current = _set(_set(results, 0.5, **JPEG10), 0.999, **CLEAN_ACC)
        report = check_regression(current, results, TOL)
        assert not report.passed
        assert len(report.moved) == 2
        assert report.failures[["attack", "param"]].values.tolist() == [["jpeg", 10.0]]
        assert report.improved["attack"].tolist() == ["none"]
        text = report.summary()
        assert "FAILED" in text and "jpeg" in text and "-0.070" in text

    def test_missing_rows_fail(self, results):
        report = check_regression(results.iloc[1:], results, TOL)
        assert not report.passed
        assert report.failures["status"].tolist() == ["missing"]

    def test_new_rows_do_not_fail(self, results):
        extra = to_frame([row(method="wang2020", model="progan", metric="detection_accuracy", value=0.1, n=10,
                              world="open")])
        report = check_regression(pd.concat([results, extra], ignore_index=True), results, TOL)
        assert report.passed and report.rows["status"].tolist().count("new") == 1

    def test_nan_value_fails(self, results):
        current = _set(results, float("nan"), **CLEAN_ACC)
        assert not check_regression(current, results, TOL).passed

    def test_per_row_override_in_tolerance_file(self, results):
        current = _set(results, 0.5, **JPEG10)  # 0.57 -> 0.50
        rows = [{"model": "progan", "attack": "jpeg", "param": 10.0, "metric": "bit_accuracy",
                 "tolerance": 0.1}]
        assert check_regression(current, results, {"metrics": TOL, "rows": rows}).passed
        assert not check_regression(current, results, {"metrics": TOL, "rows": []}).passed

    def test_operating_points_are_checked_separately(self, results):
        current = _set(results, 0.9, **TPR, fpr=0.001)  # 0.97 -> 0.90 at FPR 0.001 only
        report = check_regression(current, results, TOL)
        assert not report.passed
        assert report.failures[["metric", "fpr"]].to_dict("records") == [{"metric": "tpr_at_fpr", "fpr": 0.001}]
        assert "@FPR 0.001" in report.summary()
        rows = [{"metric": "tpr_at_fpr", "fpr": 0.001, "tolerance": 0.1}]
        assert check_regression(current, results, {"metrics": TOL, "rows": rows}).passed
        rows = [{"metric": "tpr_at_fpr", "fpr": 0.01, "tolerance": 0.1}]  # another operating point: no help
        assert not check_regression(current, results, {"metrics": TOL, "rows": rows}).passed

    def test_tolerance_as_dataframe(self, results):
        table = pd.DataFrame({"metric": list(TOL), "tolerance": list(TOL.values())})
        current = _set(results, 0.5, **JPEG10)
        assert not check_regression(current, results, table).passed
        assert check_regression(results, results, table).passed

    def test_missing_tolerance_is_an_error(self, results):
        with pytest.raises(ValueError, match="no tolerance for metric"):
            check_regression(results, results, {"bit_accuracy": 0.01})

    def test_negative_tolerance_rejected(self, results):
        with pytest.raises(ValueError, match=">= 0"):
            check_regression(results, results, {**TOL, "fid": -1.0})


class TestUpdateReference:
    def test_writes_reference_and_tolerance(self, results, tmp_path):
        write_results(results, tmp_path / "results.csv")
        spread = {m: 0.002 for m in TOL} | {"fid": 0.4}
        csv, tol = update_reference(tmp_path / "results.csv", "smoke", spread, k=3.0,
                                    note="max-min over 3 seeds", reference_dir=tmp_path / "ref")
        assert csv == tmp_path / "ref" / "smoke.csv" and tol == tmp_path / "ref" / "smoke.tolerance.json"
        payload = json.loads(tol.read_text(encoding="utf-8"))
        assert payload["metrics"]["fid"] == pytest.approx(1.2)            # k * spread
        assert payload["metrics"]["bit_accuracy"] == pytest.approx(0.006)  # k * spread > floor 0.005
        assert payload["metrics"]["psnr"] == pytest.approx(0.1)            # floor for dB wins
        assert payload["note"] == "max-min over 3 seeds" and payload["k"] == 3.0
        reference, tolerance = load_reference("smoke", tmp_path / "ref")
        assert len(reference) == len(results)
        assert check_regression(results, reference, tolerance).passed

    def test_keep_wider_never_narrows_a_previous_tolerance(self, results, tmp_path):
        """Another machine's tolerances (a previous file) stay covered: per metric and per row the wider wins."""
        write_results(results, tmp_path / "results.csv")
        spread = {m: 0.002 for m in TOL} | {"fid": 0.4}
        row_spread = results.assign(runs=10, std=0.0, max_distance=0.0, max_shortfall=0.0)
        row_spread.loc[row_spread["metric"].eq("fid"), "max_shortfall"] = 2.0  # this machine: fid rows 3.0
        _, old = update_reference(tmp_path / "results.csv", "smoke", spread, row_spread=row_spread,
                                  reference_dir=tmp_path / "old")
        previous = json.loads(old.read_text(encoding="utf-8"))
        previous["metrics"]["bit_accuracy"] = 0.2  # the other machine needed more on these
        bit_rows = [r for r in previous["rows"] if r["metric"] == "bit_accuracy"]
        for rule in bit_rows:
            rule["tolerance"] = 0.3
        old.write_text(json.dumps(previous), encoding="utf-8")
        row_spread["max_shortfall"] = 0.0  # this machine's own fid shortfall is gone
        _, new = update_reference(tmp_path / "results.csv", "smoke", spread, row_spread=row_spread,
                                  reference_dir=tmp_path / "new", keep_wider=old)
        payload = json.loads(new.read_text(encoding="utf-8"))
        assert payload["metrics"]["bit_accuracy"] == 0.2
        assert payload["metrics"]["fid"] == pytest.approx(1.2)
        def key(rule):
            return tuple(rule[c] if rule[c] not in ("", None) else None for c in IDENTITY)

        rules = {key(r): r["tolerance"] for r in payload["rows"]}
        assert len(rules) == len(payload["rows"]) == len(previous["rows"])  # merged, not duplicated
        assert {rules[key(r)] for r in bit_rows} == {0.3}
        assert all(t == pytest.approx(3.0) for k, t in rules.items() if k[IDENTITY.index("metric")] == "fid")

    def test_spread_required_for_every_metric(self, results, tmp_path):
        write_results(results, tmp_path / "results.csv")
        with pytest.raises(ValueError, match="no measured spread"):
            update_reference(tmp_path / "results.csv", "smoke", {"bit_accuracy": 0.01},
                             reference_dir=tmp_path / "ref")
        assert not (tmp_path / "ref").exists()

    @pytest.mark.parametrize("preset", ["../evil", "a/b", ""])
    def test_preset_must_be_a_file_name(self, results, tmp_path, preset):
        with pytest.raises(ValueError, match="preset name"):
            update_reference(tmp_path / "results.csv", preset, {}, reference_dir=tmp_path)

    def test_spread_from_csv_and_check_reference(self, results, tmp_path):
        write_results(results, tmp_path / "results.csv")
        pd.DataFrame({"metric": list(TOL), "spread": [0.001] * len(TOL)}).to_csv(tmp_path / "spread.csv",
                                                                                  index=False)
        csv, _ = update_reference(tmp_path / "results.csv", "quick", tmp_path / "spread.csv",
                                  reference_dir=tmp_path / "ref")
        assert check_reference(results, "quick", tmp_path / "ref").passed
        worse = _set(results, 0.5, **JPEG10)
        assert not check_reference(worse, csv).passed


class TestTrust:
    """The gate cannot be fooled: two-sided metrics, non-finite values, one tolerance per full row."""

    @staticmethod
    def frame(**values):
        rows = [row(method=FP, model="clean", metric="control_bit_accuracy", value=values.get("control", 0.5),
                    n=100, stderr=0.01),
                row(method=FP, model="g", metric="bit_accuracy", value=values.get("acc", 0.9), n=100, stderr=0.01),
                row(method=FP, model="g", metric="tpr_at_fpr", value=values.get("tpr1", 0.8), n=100, fpr=0.01),
                row(method=FP, model="g", metric="tpr_at_fpr", value=values.get("tpr2", 0.6), n=100, fpr=0.001)]
        return to_frame(rows)

    TOL = {"control_bit_accuracy": 0.05, "bit_accuracy": 0.02, "tpr_at_fpr": 0.05}

    @pytest.mark.parametrize(("control", "passed"), [(0.37, False), (0.63, False), (0.47, True), (0.5, True)])
    def test_a_clean_control_is_judged_by_its_distance_from_chance(self, control, passed):
        report = check_regression(self.frame(control=control), self.frame(), self.TOL)
        assert report.passed is passed

    @pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
    def test_non_finite_values_are_errors_never_improvements(self, value):
        report = check_regression(self.frame(acc=value), self.frame(), self.TOL)
        assert not report.passed
        assert report.failures["status"].tolist() == ["invalid"]

    def test_operating_points_are_separate_rows(self, tmp_path):
        ref = self.frame().assign(ci_low=math.nan, ci_high=math.nan)  # the spread's rule alone
        write_results(ref, tmp_path / "run.csv")
        spread = pd.DataFrame([{**{c: r[c] for c in IDENTITY}, "std": s, "max_distance": 0.0}
                               for r, s in zip(ref.to_dict("records"), (0.0, 0.0, 0.1, 0.001), strict=True)])
        _, tol_path = update_reference(tmp_path / "run.csv", "t", {m: 0.0 for m in self.TOL}, row_spread=spread,
                                       k=3.0, reference_dir=tmp_path)
        rules = json.loads(tol_path.read_text())["rows"]
        assert sorted(r["tolerance"] for r in rules if r["metric"] == "tpr_at_fpr") == [0.005, pytest.approx(0.3)]
        # 0.6 -> 0.58 at FPR 0.001 is beyond its own tolerance (0.005), though the other point's is 0.3
        report = check_reference(self.frame(tpr2=0.58), "t", reference_dir=tmp_path)
        assert report.failures["fpr"].tolist() == [0.001]

    @pytest.mark.parametrize(("shortfall", "tolerance"), [(0.01, 0.015), (None, 0.3)])
    def test_row_tolerance_from_the_shortfall_when_measured(self, tmp_path, shortfall, tolerance):
        """Runs that did better than the reference (distance 0.2, shortfall 0.01) do not widen the gate; a
        spread file from before the shortfall column keeps the distance either way."""
        ref = self.frame().assign(ci_low=math.nan, ci_high=math.nan)  # the spread's rule alone
        write_results(ref, tmp_path / "run.csv")
        records = [{**{c: r[c] for c in IDENTITY}, "std": 0.0, "max_distance": 0.2}
                   for r in ref.to_dict("records")]
        if shortfall is not None:
            records = [{**r, "max_shortfall": shortfall} for r in records]
        _, tol_path = update_reference(tmp_path / "run.csv", "t", {m: 0.0 for m in self.TOL},
                                       row_spread=pd.DataFrame(records), k=3.0, reference_dir=tmp_path)
        rules = json.loads(tol_path.read_text())["rows"]
        acc = next(r for r in rules if r["metric"] == "bit_accuracy")
        assert acc["tolerance"] == pytest.approx(tolerance)
        assert check_reference(self.frame(acc=0.9 - 0.05), "t", reference_dir=tmp_path).passed is (shortfall is None)

    def test_a_move_inside_the_references_own_interval_is_not_a_regression(self, tmp_path):
        """32 of 32 images detected (Wilson 95% interval down to 0.89): 30 of 32 on another machine is inside
        it, so the row's tolerance covers it even when ten runs happened to agree; 0.5 is far outside."""
        from fpbench.results import row as make_row

        ref = to_frame([make_row(method=FP, model="data", metric="pass_rate", value=1.0, n=32)])
        assert ref["ci_low"].iloc[0] == pytest.approx(0.8928, abs=1e-3)
        write_results(ref, tmp_path / "run.csv")
        spread = pd.DataFrame([{**{c: r[c] for c in IDENTITY}, "std": 0.0, "max_distance": 0.0, "max_shortfall": 0.0}
                               for r in ref.to_dict("records")])
        _, tol_path = update_reference(tmp_path / "run.csv", "t", {"pass_rate": 0.0}, row_spread=spread,
                                       reference_dir=tmp_path)
        rule = json.loads(tol_path.read_text())["rows"][0]
        assert rule["tolerance"] == pytest.approx(1.0 - ref["ci_low"].iloc[0])
        for value, passed in ((30 / 32, True), (0.5, False)):
            current = to_frame([make_row(method=FP, model="data", metric="pass_rate", value=value, n=32)])
            assert check_reference(current, "t", reference_dir=tmp_path).passed is passed
