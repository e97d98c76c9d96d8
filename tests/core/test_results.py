"""fpbench.results: row() takes directions from the registry, validate() lists problems, and
write_results refuses invalid tables and never leaves a partial file."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from fpbench.metrics import FPR_METRICS
from fpbench.registry import UnknownIdError
from fpbench.results import COLUMNS, read_results, row, to_frame, validate, write_results


@pytest.fixture
def table() -> pd.DataFrame:
    return to_frame([
        row(method="artificial_fingerprint", model="data", metric="bit_accuracy", value=0.99, n=128,
            stderr=0.002, seed=3),
        row(method="artificial_fingerprint", model="data", metric="p_value", value=1e-25, n=128),
        row(method="artificial_fingerprint", model="data", metric="bit_accuracy", value=0.8, n=32,
            attack="jpeg", attack_kind="image", param=50, severity=1, attack_version=2),
        row(method="yu2019", model="dcgan-s1", metric="attribution_accuracy", value=0.5, n=10,
            world="open", extractor="inception"),
        # one metric at two operating points of one attack level: told apart by fpr, param stays the attack's
        row(method="artificial_fingerprint", model="data", metric="tpr_at_fpr", value=0.9, n=32,
            attack="jpeg", attack_kind="image", param=50, severity=1, fpr=0.01),
        row(method="artificial_fingerprint", model="data", metric="tpr_at_fpr", value=0.7, n=32,
            attack="jpeg", attack_kind="image", param=50, severity=1, fpr=0.001),
        row(method="artificial_fingerprint", model="data", metric="tpr_at_fpr_analytic", value=0.6, n=32,
            attack="jpeg", attack_kind="image", param=50, severity=1, fpr=0.001),
    ])


class TestRow:
    @pytest.mark.parametrize(("metric", "higher"), [("bit_accuracy", True), ("fid", False), ("p_value", False)])
    def test_direction_from_registry(self, metric, higher):
        assert row(method="m", model="x", metric=metric, value=1, n=1).higher_is_better is higher

    def test_numbers_are_numbers(self):
        r = row(method="m", model="x", metric="psnr", value="41.5", n="8", param="3")  # type: ignore[arg-type]
        assert isinstance(r.value, float) and isinstance(r.n, int) and isinstance(r.param, float)
        assert r.value == 41.5 and math.isnan(row(method="m", model="x", metric="psnr", value=1, n=1).param)

    def test_unknown_metric(self):
        with pytest.raises(UnknownIdError, match="Did you mean 'psnr'"):
            row(method="m", model="x", metric="psrn", value=1, n=1)

    @pytest.mark.parametrize(("kwargs", "match"), [({"attack_kind": "imag"}, "attack_kind"),
                                                   ({"world": "opne"}, "world")])
    def test_bad_enums(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            row(method="m", model="x", metric="psnr", value=1, n=1, **kwargs)


class TestValidateTable:
    def test_valid(self, table):
        assert validate(table) == []
        assert list(table.columns) == list(COLUMNS)

    @pytest.mark.parametrize("column", ["value", "param", "fpr", "n", "severity"])
    def test_string_numbers_rejected(self, table, column):
        bad = table.assign(**{column: table[column].map(str)})
        assert any(f"column {column!r} must be numeric" in p for p in validate(bad))

    def test_unknown_metric_did_you_mean(self, table):
        bad = table.copy()
        bad.loc[1, "metric"] = "p_valeu"
        assert any("unknown metric 'p_valeu'" in p and "Did you mean 'p_value'" in p for p in validate(bad))

    @pytest.mark.parametrize("column", ["method", "metric", "value", "n", "higher_is_better"])
    def test_missing_column(self, table, column):
        assert validate(table.drop(columns=column)) == [f"missing columns: {column}"]

    def test_wrong_direction(self, table):
        bad = table.copy()
        bad.loc[1, "higher_is_better"] = True
        assert any("'p_value' must have higher_is_better=False" in p for p in validate(bad))

    def test_clean_rows_need_kind_none(self, table):
        bad = table.copy()
        bad.loc[0, "attack_kind"] = "image"
        assert any("attack 'none' must have attack_kind 'none'" in p for p in validate(bad))

    def test_duplicate_key_includes_fpr(self, table):
        assert any("share the same" in p for p in validate(pd.concat([table, table.iloc[-1:]])))
        bad = table.copy()
        bad.loc[bad.index[-2], "fpr"] = 0.01  # now the same (..., metric, fpr) as the row before
        assert any("2 rows share the same" in p and "fpr" in p for p in validate(bad))

    @pytest.mark.parametrize("fpr", [math.nan, 0.0, 1.0, 5.0])
    def test_tpr_rows_need_an_operating_point(self, table, fpr):
        bad = table.copy()
        bad.loc[bad.index[-1], "fpr"] = fpr
        assert any("need their operating point in 'fpr'" in p for p in validate(bad))
        assert any("need the column 'fpr'" in p for p in validate(table.drop(columns="fpr")))

    def test_other_rows_have_no_fpr(self, table):
        bad = table.copy()
        bad.loc[0, "fpr"] = 0.01
        assert any("only rows of" in p for p in validate(bad))

    def test_missing_value(self, table):
        bad = table.copy()
        bad.loc[0, "value"] = math.nan
        assert any("1 rows have no value" in p for p in validate(bad))


class TestWriteRead:
    def test_round_trip_keeps_dtypes_and_values(self, table, tmp_path):
        write_results(table, tmp_path / "results.csv")
        back = read_results(tmp_path / "results.csv")
        pd.testing.assert_frame_equal(back, table)
        assert back["n"].dtype == "int64" and back["severity"].dtype == "int64"
        assert back["value"].dtype == "float64" and back["higher_is_better"].dtype == bool
        assert back.loc[1, "value"] == 1e-25
        assert back["fpr"].dtype == "float64" and back["fpr"].tolist()[-3:] == [0.01, 0.001, 0.001]
        assert back["fpr"].iloc[:-3].isna().all()
        assert validate(back) == []

    def test_table_without_fpr_column_reads_with_nan(self, table, tmp_path):
        """Rows cached before the fpr column existed load with fpr = NaN (and still build Rows)."""
        old = table[~table["metric"].isin(FPR_METRICS)].drop(columns="fpr")
        old.to_csv(tmp_path / "old.csv", index=False)
        back = read_results(tmp_path / "old.csv")
        assert list(back.columns) == list(COLUMNS) and back["fpr"].isna().all()
        assert validate(back) == []

    def test_refuses_invalid_table_and_keeps_old_file(self, table, tmp_path):
        path = tmp_path / "results.csv"
        write_results(table, path)
        before = path.read_bytes()
        bad = table.assign(value=table["value"].map(str))
        with pytest.raises(ValueError, match="refusing to write an invalid results table"):
            write_results(bad, path)
        assert path.read_bytes() == before
        with pytest.raises(ValueError, match="refusing"):
            write_results(bad, tmp_path / "new.csv")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]

    def test_failure_mid_write_leaves_no_partial_file(self, table, tmp_path, monkeypatch):
        real_to_csv = pd.DataFrame.to_csv

        def half_then_fail(self, path, *args, **kwargs):
            real_to_csv(self.iloc[:1], path, *args, **kwargs)
            raise OSError("disk full")

        monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
        with pytest.raises(OSError, match="disk full"):
            write_results(table, tmp_path / "results.csv")
        assert list(tmp_path.iterdir()) == []
