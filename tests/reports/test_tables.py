"""Tables: every file written, Markdown numbers equal the CSV numbers, LaTeX escaped, empty tables skipped."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from fpbench.reports.tables import FORMATS, TABLE_NAMES, build_tables, table_markdown, write_tables
from fpbench.results import AGGREGATE_SEED, row, to_frame

FP = "artificial_fingerprint"


def _markdown_rows(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    split = [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines]
    return split[0], split[2:]


def _value_and_precision(cell: str) -> tuple[float, float]:
    """The leading number of a cell and half a unit of its last printed digit."""
    text = cell.split(" ± ")[0]
    mantissa, _, exponent = text.partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    scale = 10.0 ** int(exponent) if exponent else 1.0
    return float(text), 0.5 * 10.0**-decimals * scale


def _error(csv: pd.DataFrame, key: str, i: int) -> float:
    """What a cell's ± must show: half the 95% interval where both ends are finite, else the stderr."""
    low, high, err = (csv.at[i, f"{key}_{e}"] if f"{key}_{e}" in csv else math.nan
                      for e in ("ci_low", "ci_high", "stderr"))
    return (high - low) / 2 if math.isfinite(low) and math.isfinite(high) else err


class TestTables:
    def test_every_table_written_in_every_format(self, summarised_results, tmp_path):
        written = write_tables(summarised_results, tmp_path)
        assert set(written) == set(TABLE_NAMES)
        for name in TABLE_NAMES:
            for fmt in FORMATS:
                path = tmp_path / f"{name}.{fmt}"
                assert path.is_file() and path.stat().st_size > 0, path

    @pytest.mark.parametrize("name", TABLE_NAMES)
    def test_markdown_numbers_equal_csv(self, summarised_results, tmp_path, name):
        written = write_tables(summarised_results, tmp_path)
        table = build_tables(summarised_results)[name]
        csv = pd.read_csv(written[name]["csv"])
        header, body = _markdown_rows(written[name]["md"].read_text(encoding="utf-8"))
        assert len(body) == len(csv)
        checked = 0
        for vc in table.columns:
            col = header.index(vc.header)
            for i, cells in enumerate(body):
                want = csv.at[i, vc.key]
                if math.isnan(want):
                    assert cells[col] == "–"
                    continue
                got, half = _value_and_precision(cells[col])
                assert abs(got - want) <= half * (1 + 1e-9), (name, vc.key, i, cells[col], want)
                want_err = _error(csv, vc.key, i)
                if math.isnan(want_err):
                    assert " ± " not in cells[col]
                else:
                    err, half = _value_and_precision(cells[col].split(" ± ")[1])
                    assert abs(err - want_err) <= half * (1 + 1e-9)
                checked += 1
        assert checked > 0

    def test_headers_carry_arrow_and_unit(self, results):
        transfer = build_tables(results)["transfer"].display()
        assert "bit accuracy ↑ [fraction]" in transfer.columns
        assert "p value ↓ [probability]" in transfer.columns
        assert any(c.startswith("fid ↓ [FID]") for c in transfer.columns)

    def test_interval_shown_as_plus_minus(self, results):
        transfer = build_tables(results)["transfer"].display().set_index("model")
        # bit accuracy 0.98, stderr 0.002 over n = 500: the 95% t-interval is +- 1.965 * 0.002 = 0.0039
        assert transfer.at["progan", "bit accuracy ↑ [fraction]"] == "0.980 ± 0.004"
        assert transfer.at["progan", "p value ↓ [probability]"] == "3.20e-21"

    def test_latex_escapes_underscores(self, summarised_results, tmp_path):
        written = write_tables(summarised_results, tmp_path)
        for name in TABLE_NAMES:
            tex = written[name]["tex"].read_text(encoding="utf-8")
            assert r"\toprule" in tex and r"\bottomrule" in tex
            assert re.search(r"(?<!\\)_", tex) is None, name
        assert r"artificial\_fingerprint" in written["transfer"]["tex"].read_text(encoding="utf-8")
        assert r"$\uparrow$" in written["transfer"]["tex"].read_text(encoding="utf-8")

    def test_clean_counterpart_fid_beside_fingerprinted(self, results):
        data = build_tables(results)["transfer"].data.set_index("model")
        assert data.at["progan", "fid_clean"] == pytest.approx(14.09)
        assert data.at["progan", "fid"] == pytest.approx(14.38)
        assert "progan_clean" not in data.index

    def test_detection_by_method_and_world(self, results):
        data = build_tables(results)["detection"].data
        assert list(data["method"].unique()) == [FP, "yu2019"]
        yu = data[(data["method"] == "yu2019") & (data["model"] == "progan")].iloc[0]
        assert yu["attribution_accuracy_closed"] == pytest.approx(0.997)
        assert yu["attribution_accuracy_open"] == pytest.approx(0.102)

    def test_robustness_rows_weakest_first(self, results):
        data = build_tables(results)["robustness_image"].data
        jpeg = data[(data["attack"] == "jpeg") & (data["model"] == "progan") & (data["method"] == FP)]
        assert jpeg["param"].tolist() == [90.0, 50.0, 10.0]

    def test_model_table_has_accuracy_and_fid_side_by_side(self, results):
        table = build_tables(results)["model_attacks"]
        assert [c.key for c in table.columns][:2] == ["bit_accuracy", "fid"]

    def test_empty_tables_skipped_and_stale_files_removed(self, results, tmp_path):
        write_tables(results, tmp_path)
        clean_only = results[results["attack"] == "none"]
        clean_only = clean_only[~clean_only["metric"].isin(["detection_accuracy", "attribution_accuracy",
                                                             "tpr_at_fpr"])]
        written = write_tables(clean_only, tmp_path)
        assert set(written) == {"transfer"}
        assert sorted(p.name for p in tmp_path.iterdir()) == ["transfer.csv", "transfer.md", "transfer.tex"]

    def test_operating_points_get_their_own_columns(self):
        rows = [row(method=FP, model="progan", metric=metric, value=v, n=10, fpr=fpr, **level)
                for metric in ("tpr_at_fpr", "tpr_at_fpr_analytic")
                for v, fpr in ((0.9, 0.01), (0.7, 0.001))
                for level in ({}, {"attack": "jpeg", "attack_kind": "image", "param": 50.0, "severity": 0})]
        tables = build_tables(to_frame(rows))
        for name in ("detection", "robustness_image"):
            table = tables[name]
            assert len(table.data) == 1, name
            by_header = {c.header: table.data[c.key].iloc[0] for c in table.columns}
            assert by_header == {"tpr at fpr ↑ [fraction] (FPR 0.001)": 0.7,
                                 "tpr at fpr ↑ [fraction] (FPR 0.01)": 0.9,
                                 "tpr at fpr analytic ↑ [fraction] (FPR 0.001)": 0.7,
                                 "tpr at fpr analytic ↑ [fraction] (FPR 0.01)": 0.9}, name
        assert tables["robustness_image"].data["param"].tolist() == [50.0]

    def test_summary_one_row_per_method_and_model_one_column_per_attack(self, summarised_results):
        tables = build_tables(summarised_results)
        data = tables["robustness_summary"].data
        assert sorted(zip(data["method"], data["model"], strict=True)) == [(FP, "data"), (FP, "progan")]
        auc = summarised_results[summarised_results["metric"] == "robustness_auc"]
        assert len(auc) == 6
        for rec in auc.to_dict("records"):
            got = data.loc[data["model"] == rec["model"], f"robustness_auc_{rec['attack']}"]
            assert got.tolist() == [rec["value"]]
        for name in ("robustness_image", "model_attacks"):
            assert "robustness_auc" not in set(c.metric for c in tables[name].columns), name

    def test_seeds_are_shown_never_averaged(self):
        rows = [row(method=FP, model="progan", metric="bit_accuracy", value=v, n=10, seed=s)
                for s, v in ((0, 0.9), (1, 0.8))]
        data = build_tables(to_frame(rows))["transfer"].data
        assert "seed" in data.columns
        assert sorted(data["bit_accuracy"]) == [0.8, 0.9]


class TestCleanCounterparts:
    ROWS = [("dcgan-s1", 20.0), ("dcgan-s2", 21.0), ("resnet-s1", 30.0), ("dcgan-clean", 18.5)]

    def _frame(self):
        return to_frame([row(method=FP, model=g, metric="fid", value=v, n=10) for g, v in self.ROWS])

    def test_preset_naming_pairs_every_instance(self):
        data = build_tables(self._frame())["transfer"].data.set_index("model")
        assert data.loc[["dcgan-s1", "dcgan-s2"], "fid_clean"].tolist() == [18.5, 18.5]
        assert math.isnan(data.at["resnet-s1", "fid_clean"])
        assert "dcgan-clean" not in data.index

    @pytest.mark.parametrize("where", ["zoo", "top"])
    def test_manifest_names_clean_generators(self, where):
        """Today's manifests hold the run config's generators under ``zoo``; older ones at the top."""
        from fpbench.reports.config import ReportConfig

        generators = [{"id": "dcgan-s1", "arch": "dcgan", "fingerprinted": True},
                      {"id": "control", "arch": "dcgan", "fingerprinted": False}]
        manifest = {"config": {"zoo": {"generators": generators}} if where == "zoo" else {"generators": generators}}
        config = ReportConfig().with_manifest(manifest)
        assert config.is_clean("control") and not config.is_clean("dcgan-s1")
        frame = to_frame([row(method=FP, model="dcgan-s1", metric="fid", value=20.0, n=10),
                          row(method=FP, model="control", metric="fid", value=18.0, n=10)])
        data = build_tables(frame, config)["transfer"].data
        assert data["model"].tolist() == ["dcgan-s1"] and data["fid_clean"].tolist() == [18.0]

    def test_without_manifest_generators_config_is_unchanged(self):
        from fpbench.reports.config import DEFAULT_CONFIG

        assert DEFAULT_CONFIG.with_manifest({"preset": "smoke"}) is DEFAULT_CONFIG
        assert DEFAULT_CONFIG.with_manifest(None) is DEFAULT_CONFIG


class TestIntervals:
    ROW = {"method": FP, "model": "progan", "metric": "bit_accuracy", "n": 10}

    def _frame(self):
        half_open = (math.nan, 0.9)
        return to_frame([row(**self.ROW, value=0.93, stderr=0.01, ci=(0.90, 0.96)),
                         row(**{**self.ROW, "model": "stylegan2"}, value=0.8, stderr=0.02, ci=half_open)])

    def test_half_width_in_markdown(self):
        table = build_tables(self._frame())["transfer"]
        cells = table.display().set_index("model")["bit accuracy ↑ [fraction]"]
        assert cells["progan"] == "0.930 ± 0.030"
        assert cells["stylegan2"] == "0.800 ± 0.020"  # one end missing: the stderr, as before intervals
        assert "| 0.930 ± 0.030 |" in table_markdown(table)

    def test_csv_keeps_interval_as_numbers(self, tmp_path):
        csv = pd.read_csv(write_tables(self._frame(), tmp_path)["transfer"]["csv"]).set_index("model")
        assert csv.at["progan", "bit_accuracy_ci_low"] == 0.90
        assert csv.at["progan", "bit_accuracy_ci_high"] == 0.96
        assert math.isnan(csv.at["stylegan2", "bit_accuracy_ci_low"])
        assert pd.api.types.is_float_dtype(csv["bit_accuracy_ci_high"])

    def test_no_interval_columns_without_intervals(self):
        frame = to_frame([row(method=FP, model="progan", metric="fid", value=14.0, n=10)])
        assert list(build_tables(frame)["transfer"].data.columns) == ["method", "model", "fid"]

    def test_aggregate_rows_win_over_per_seed_rows(self):
        rows = [row(**self.ROW, value=v, stderr=0.01, seed=s) for s, v in ((0, 0.9), (1, 0.8))]
        rows.append(row(**self.ROW, value=0.85, stderr=0.05, seed=AGGREGATE_SEED, ci=(0.2, 1.0)))
        rows += [row(**{**self.ROW, "model": "stylegan2"}, value=v, seed=s) for s, v in ((0, 0.7), (1, 0.6))]
        data = build_tables(to_frame(rows))["transfer"].data
        progan = data[data["model"] == "progan"]
        assert progan["bit_accuracy"].tolist() == [0.85] and progan["seed"].tolist() == [AGGREGATE_SEED]
        assert sorted(data.loc[data["model"] == "stylegan2", "bit_accuracy"]) == [0.6, 0.7]  # no aggregate

    def test_only_aggregates_hide_the_seed(self):
        rows = [row(**self.ROW, value=v, seed=s) for s, v in ((0, 0.9), (1, 0.8))]
        rows.append(row(**self.ROW, value=0.85, stderr=0.05, seed=AGGREGATE_SEED, ci=(0.2, 1.0)))
        table = build_tables(to_frame(rows))["transfer"]
        assert "seed" not in table.data and table.display().iloc[0, -1] == "0.850 ± 0.400"

    def test_old_table_without_interval_columns(self, results):
        old = results.drop(columns=["ci_low", "ci_high"])
        transfer = build_tables(old)["transfer"].display().set_index("model")
        assert transfer.at["progan", "bit accuracy ↑ [fraction]"] == "0.980 ± 0.002"
        assert set(build_tables(old)) == set(TABLE_NAMES) - {"robustness_summary"}
