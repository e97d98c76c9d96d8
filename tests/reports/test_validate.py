"""fpbench.results.validate rejects the tables the report must never render."""

from __future__ import annotations

import pytest

from fpbench.results import validate


class TestValidate:
    def test_sample_table_is_valid(self, results):
        assert validate(results) == []

    def test_numbers_stored_as_strings(self, results):
        bad = results.assign(value=results["value"].map(str))
        assert any("'value' must be numeric" in p for p in validate(bad))

    def test_unknown_metric_suggests(self, results):
        bad = results.copy()
        bad.loc[0, "metric"] = "bit_acuracy"
        problems = validate(bad)
        assert any("unknown metric 'bit_acuracy'" in p and "Did you mean 'bit_accuracy'" in p
                   for p in problems)

    @pytest.mark.parametrize("column", ["value", "higher_is_better", "attack_kind", "param"])
    def test_missing_column(self, results, column):
        problems = validate(results.drop(columns=column))
        assert problems == [f"missing columns: {column}"]

    def test_wrong_direction(self, results):
        bad = results.copy()
        bad.loc[bad["metric"] == "fid", "higher_is_better"] = True
        assert any("metric 'fid' must have higher_is_better=False" in p for p in validate(bad))

    def test_unknown_world(self, results):
        bad = results.copy()
        bad.loc[bad["world"] == "open", "world"] = "opne"
        assert any("unknown world values ['opne']" in p for p in validate(bad))

    def test_duplicate_rows(self, results):
        import pandas as pd

        assert any("share the same" in p for p in validate(pd.concat([results, results.iloc[:1]])))


class TestReadResults:
    def test_round_trip_with_empty_text_columns(self, tmp_path):
        """world and extractor are empty in most runs: CSV reads them as float NaN; they must come back ''."""
        from fpbench.results import read_results, row, to_frame, write_results

        df = to_frame([row(method="artificial_fingerprint", model="data", metric="bit_accuracy", value=0.5,
                           n=8)])
        write_results(df, tmp_path / "results.csv")
        back = read_results(tmp_path / "results.csv")
        assert back["world"].tolist() == [""] and back["extractor"].tolist() == [""]
        assert validate(back) == []
        assert back["value"].tolist() == [0.5]
