"""compare_runs: rows matched on identity (NaN param == NaN param), classified by metric direction."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bench.results import row, to_frame
from reports.compare import compare_runs, format_comparison

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
