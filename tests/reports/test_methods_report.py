"""The "Methods compared" section: which methods it lists, the cells of its three tables, the best marks,
one robustness line per method and source, and no section at all for a single-method run."""

from __future__ import annotations

import json
import math

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from fpbench import reports
from fpbench.reports import methods
from fpbench.reports.config import ReportConfig
from fpbench.reports.palette import colour
from fpbench.reports.plots import methods_robustness_figure
from fpbench.reports.tables import BEST_MARK
from fpbench.results import row, to_frame, write_results

FP, LSB, QIM = "artificial_fingerprint", "lsb", "dct_qim"
LSB_DEFAULT = "lsb@default"
# (data bit accuracy, data PSNR, {generator: (bit accuracy, attribution closed, attribution open, FID)},
#  clean generator control, clean photo control), by method; lsb never trained a resnet.
NUMBERS = {
    FP: (0.97, 30.1, {"dcgan-s1": (0.93, 0.90, 0.80, 12.0), "resnet-s1": (0.88, 0.85, 0.70, 20.0)}, 0.50, 0.49),
    LSB: (1.00, 30.0, {"dcgan-s1": (0.52, 0.00, 0.00, 11.5)}, 0.51, 0.50),
    QIM: (0.99, 29.8, {"dcgan-s1": (0.53, 0.01, 0.00, 11.8)}, 0.49, 0.52),
}
LSB_DEFAULT_DATA = (1.00, 51.2)  # only data-level rows at its own default strength
JPEG = ((90.0, 0), (50.0, 1))
# robustness_auc by (method, model, attack): jpeg on data ties lsb and dct_qim; lsb@default beats all there
AUC = {
    (FP, "data", "jpeg"): 0.80, (LSB, "data", "jpeg"): 0.85, (QIM, "data", "jpeg"): 0.85,
    (LSB_DEFAULT, "data", "jpeg"): 0.95,
    (FP, "dcgan-s1", "jpeg"): 0.78, (LSB, "dcgan-s1", "jpeg"): 0.51, (QIM, "dcgan-s1", "jpeg"): 0.50,
    (FP, "dcgan-s1", "weight_noise"): 0.70, (LSB, "dcgan-s1", "weight_noise"): 0.52,
}


def _method_rows(method: str) -> list:
    data_acc, psnr, gens, clean_gen, clean_photo = NUMBERS[method]
    rows = [row(method=method, model="data", metric="bit_accuracy", value=data_acc, n=100, stderr=0.01,
                ci=(data_acc - 0.02, min(data_acc + 0.02, 1.0))),
            row(method=method, model="data", metric="psnr", value=psnr, n=100, stderr=0.05),
            row(method=method, model="dcgan-clean", metric="control_bit_accuracy", value=clean_gen, n=64,
                stderr=0.01),
            row(method=method, model="real", metric="control_bit_accuracy", value=clean_photo, n=100, stderr=0.01)]
    for gen, (acc, closed, open_, fid) in gens.items():
        rows += [row(method=method, model=gen, metric="bit_accuracy", value=acc, n=64, stderr=0.01, ci=(acc - 0.03,
                                                                                                       acc + 0.03)),
                 row(method=method, model=gen, metric="pass_rate", value=closed, n=64),
                 row(method=method, model=gen, metric="attribution_accuracy", value=closed, n=64, world="closed"),
                 row(method=method, model=gen, metric="attribution_accuracy", value=open_, n=64, world="open"),
                 row(method=method, model=gen, metric="fid", value=fid, n=64)]
    for model in ("data", *gens):
        for q, severity in JPEG:
            rows.append(row(method=method, model=model, attack="jpeg", attack_kind="image", param=q,
                            severity=severity, metric="bit_accuracy", value=data_acc - 0.1 * (severity + 1), n=64,
                            stderr=0.01))
    return rows


def make_results() -> pd.DataFrame:
    rows = _method_rows(LSB) + _method_rows(QIM)  # the primary appears last: it is listed first all the same
    acc, psnr = LSB_DEFAULT_DATA
    rows += [row(method=LSB_DEFAULT, model="data", metric="bit_accuracy", value=acc, n=100, stderr=0.0),
             row(method=LSB_DEFAULT, model="data", metric="psnr", value=psnr, n=100, stderr=0.05)]
    rows += [row(method=LSB_DEFAULT, model="data", attack="jpeg", attack_kind="image", param=q, severity=s,
                 metric="bit_accuracy", value=0.9, n=64, stderr=0.01) for q, s in JPEG]
    rows += _method_rows(FP)
    for baseline in ("yu2019", "yu2019+immunised"):  # classifiers: detection rows, never a bit accuracy
        rows.append(row(method=baseline, model="dcgan-s1", metric="attribution_accuracy", value=0.9, n=64,
                        world="closed"))
    rows += [row(method=m, model=g, attack=a, attack_kind="image" if a == "jpeg" else "model",
                 metric="robustness_auc", value=v, n=64) for (m, g, a), v in AUC.items()]
    return to_frame(rows)


@pytest.fixture(scope="module")
def multi() -> pd.DataFrame:
    return make_results()


@pytest.fixture(scope="module")
def tables(multi):
    return methods.build_method_tables(multi)


@pytest.fixture(scope="module")
def figure(multi):
    return methods_robustness_figure(multi)


@pytest.fixture(scope="module")
def run(tmp_path_factory, multi):
    run = tmp_path_factory.mktemp("multi")
    write_results(multi, run / "results.csv")
    (run / "manifest.json").write_text(json.dumps({"preset": "smoke", "target_psnr": 30.0}), encoding="utf-8")
    reports.render_run(run)
    return run


def _cell(table, method: str, key: str) -> float:
    return float(table.data.loc[table.data["method"] == method, key].iloc[0])


class TestWhichMethods:
    def test_primary_first_then_in_order_of_appearance_own_default_after_its_method(self, multi):
        assert methods.fingerprint_methods(multi) == [FP, LSB, LSB_DEFAULT, QIM]

    def test_baselines_and_their_variants_are_not_fingerprinting_methods(self):
        config = ReportConfig()
        assert config.is_baseline("yu2019") and config.is_baseline("frank2020+immunised")
        assert not config.is_baseline(LSB) and not config.is_baseline("artificial_fingerprint_immunised")
        assert not config.is_baseline("lsb+immunised")  # only a baseline's variants

    def test_own_default_label(self):
        config = ReportConfig()
        assert config.own_default_of(LSB_DEFAULT) == LSB and config.own_default_of(LSB) is None
        assert methods.method_label(LSB_DEFAULT) == "lsb (own default strength)"
        assert methods.method_label(QIM) == QIM

    def test_one_method_and_its_own_default_is_no_comparison(self, multi):
        only = multi[multi["method"].isin([LSB, LSB_DEFAULT])]
        assert methods.build_method_tables(only) == {}


class TestOverview:
    def test_rows_and_columns(self, tables):
        table = tables["methods_overview"]
        assert table.data["method"].tolist() == [FP, LSB, LSB_DEFAULT, QIM]
        assert [c.key for c in table.columns] == [
            "bit_accuracy_data", "psnr_data", "bit_accuracy_dcgan-s1", "bit_accuracy_resnet-s1",
            "attribution_accuracy_dcgan-s1", "attribution_accuracy_resnet-s1", "fid_dcgan-s1", "fid_resnet-s1"]
        assert table.columns[2].header == "bit accuracy ↑ [fraction] (dcgan-s1 samples)"

    @pytest.mark.parametrize("method", [FP, LSB, QIM])
    def test_cells_are_the_rows(self, tables, method):
        table = tables["methods_overview"]
        data_acc, psnr, gens, _, _ = NUMBERS[method]
        assert _cell(table, method, "bit_accuracy_data") == data_acc
        assert _cell(table, method, "psnr_data") == psnr
        for gen in ("dcgan-s1", "resnet-s1"):
            want = gens.get(gen, (math.nan,) * 4)
            got = [_cell(table, method, f"{m}_{gen}") for m in ("bit_accuracy", "attribution_accuracy", "fid")]
            assert got == pytest.approx([want[0], want[1], want[3]], nan_ok=True)  # closed world, not open

    def test_display_labels_own_default_and_leaves_missing_generators_empty(self, tables):
        shown = tables["methods_overview"].display().set_index("method")
        assert shown.index.tolist() == [FP, LSB, "lsb (own default strength)", QIM]
        assert shown.at[FP, "bit accuracy ↑ [fraction] (stamped photos)"] == "0.970 ± 0.020"
        assert shown.at[LSB, "bit accuracy ↑ [fraction] (resnet-s1 samples)"] == "–"
        # PSNR is a mean: its interval is ± t(0.975, 99) * stderr = 1.984 * 0.05
        assert shown.at["lsb (own default strength)", "psnr ↑ [dB] (stamped photos)"] == "51.20 ± 0.10"
        assert shown.at["lsb (own default strength)", "bit accuracy ↑ [fraction] (dcgan-s1 samples)"] == "–"

    def test_pass_rate_when_no_attribution_rows(self, multi):
        table = methods.build_method_tables(multi[multi["metric"] != "attribution_accuracy"])["methods_overview"]
        assert "pass_rate_dcgan-s1" in table.data and _cell(table, FP, "pass_rate_dcgan-s1") == 0.90


class TestNegativeControl:
    def test_stamped_vs_generated_vs_clean_controls(self, tables):
        table = tables["methods_control"]
        assert [c.key for c in table.columns] == [
            "bit_accuracy_data", "bit_accuracy_dcgan-s1", "bit_accuracy_resnet-s1",
            "control_bit_accuracy_dcgan-clean", "control_bit_accuracy_real"]
        assert [c.header for c in table.columns][3:] == [
            "control bit accuracy ↓ [fraction] (dcgan-clean, clean generator)",
            "control bit accuracy ↓ [fraction] (clean photos)"]
        for method in (FP, LSB, QIM):
            data_acc, _, gens, clean_gen, clean_photo = NUMBERS[method]
            assert _cell(table, method, "bit_accuracy_data") == data_acc
            assert _cell(table, method, "bit_accuracy_dcgan-s1") == gens["dcgan-s1"][0]
            assert _cell(table, method, "control_bit_accuracy_dcgan-clean") == clean_gen
            assert _cell(table, method, "control_bit_accuracy_real") == clean_photo


class TestAreaSummary:
    def test_methods_by_attack_stamped_photos_first(self, tables):
        table = tables["methods_robustness"]
        assert table.data["method"].tolist() == [FP, LSB, LSB_DEFAULT, QIM]
        assert [c.key for c in table.columns] == [
            "robustness_auc_jpeg_data", "robustness_auc_jpeg_dcgan-s1", "robustness_auc_weight_noise_dcgan-s1"]
        assert table.columns[0].header == "jpeg ↑ (stamped photos)"
        for (method, model, attack), value in AUC.items():
            assert _cell(table, method, f"robustness_auc_{attack}_{model}") == value

    def test_best_marked_ties_both_own_default_not_ranked(self, tables):
        table = tables["methods_robustness"]
        rows = {m: i for i, m in enumerate(table.data["method"])}
        assert table.marked == {(rows[LSB], "robustness_auc_jpeg_data"), (rows[QIM], "robustness_auc_jpeg_data"),
                                (rows[FP], "robustness_auc_jpeg_dcgan-s1"),
                                (rows[FP], "robustness_auc_weight_noise_dcgan-s1")}
        shown = table.display().set_index("method")
        assert shown.at[QIM, "jpeg ↑ (stamped photos)"] == f"0.850 {BEST_MARK}"
        assert shown.at["lsb (own default strength)", "jpeg ↑ (stamped photos)"] == "0.950"
        assert shown.at[FP, "jpeg ↑ (stamped photos)"] == "0.800"


class TestPlot:
    def test_drawn_off_pyplot(self, figure):
        assert figure is not None and plt.get_fignums() == []

    def test_one_line_per_method_and_source(self, figure):
        (ax,) = [a for a in figure.axes if a.get_visible()]
        lines = {c.get_label(): c for c in ax.containers}
        assert sorted(lines) == sorted([
            "artificial_fingerprint / stamped photos", "artificial_fingerprint / dcgan-s1 samples",
            "artificial_fingerprint / resnet-s1 samples", "lsb / stamped photos", "lsb / dcgan-s1 samples",
            "lsb (own default strength) / stamped photos", "dct_qim / stamped photos", "dct_qim / dcgan-s1 samples"])
        line = lines["dct_qim / dcgan-s1 samples"].lines[0]
        points = dict(zip(line.get_xdata().tolist(), line.get_ydata().tolist(), strict=True))
        assert points == pytest.approx({90.0: 0.89, 50.0: 0.79})  # JPEG quality 90, then 50
        assert to_rgba(line.get_color()) == to_rgba(colour(QIM)) and line.get_linestyle() == "--"
        own = lines["lsb (own default strength) / stamped photos"].lines[0]
        assert to_rgba(own.get_color()) == to_rgba(colour(LSB)) and own.get_linestyle() == "-."
        assert lines["lsb / stamped photos"].lines[0].get_linestyle() == "-"

    def test_legend_keys_colour_by_method_and_style_by_source(self, figure):
        (legend,) = figure.legends
        assert [t.get_text() for t in legend.get_texts()] == [
            FP, LSB, "lsb (own default strength)", QIM, "stamped photos", "dcgan-s1 samples", "resnet-s1 samples",
            "chance (0.5)"]

    def test_no_figure_for_one_method_or_without_image_attacks(self, multi):
        assert methods_robustness_figure(multi[multi["method"] == FP]) is None
        clean = multi[multi["attack_kind"] != "image"]
        assert methods_robustness_figure(clean) is None
        assert set(methods.build_method_tables(clean)) == {"methods_overview", "methods_control",
                                                           "methods_robustness"}  # weight_noise areas remain


class TestPage:
    def test_tables_and_plot_written(self, run):
        for name in methods.METHOD_TABLE_NAMES:
            for fmt in ("csv", "md", "tex"):
                assert (run / "tables" / f"{name}.{fmt}").stat().st_size > 0, (name, fmt)
        assert (run / "plots" / "methods_robustness.png").read_bytes().startswith(b"\x89PNG")
        csv = pd.read_csv(run / "tables" / "methods_overview.csv")
        assert csv["method"].tolist() == [FP, LSB, LSB_DEFAULT, QIM]  # ids in the numbers, labels on the page
        assert r"$\star$" in (run / "tables" / "methods_robustness.tex").read_text(encoding="utf-8")

    @pytest.mark.parametrize("name", ["report.md", "report.html"])
    def test_section_near_the_top(self, run, name):
        text = (run / name).read_text(encoding="utf-8")
        assert text.index("Answers") < text.index("Methods side by side") < text.index("Provenance")
        assert "matched data PSNR (the run" in text and "target, 30.00 dB)" in text
        assert "at their own default strength" in text and "lsb (own default strength)" in text
        assert "Fingerprinting methods compared (no attack)" in text and "negative control" in text

    def test_md_links_the_plot_once(self, run):
        text = (run / "report.md").read_text(encoding="utf-8")
        assert text.count("(plots/methods_robustness.png)") == 1

    def test_intro_names_methods_off_the_target(self, multi):
        text = methods.intro(multi, {"target_psnr": 30.0})
        assert "`artificial_fingerprint` (primary), `lsb`, `dct_qim`" in text
        assert "More than 1 dB off the target" not in text  # 29.8 .. 30.1; lsb@default is not matched
        text = methods.intro(multi, {"target_psnr": 28.0})
        assert ("More than 1 dB off the target in this run: `artificial_fingerprint` (30.10 dB), `lsb` (30.00 dB), "
                "`dct_qim` (29.80 dB).") in text

    def test_single_method_run_has_no_section_and_no_stale_files(self, tmp_path, multi, sample_results):
        write_results(multi, tmp_path / "results.csv")
        reports.render_run(tmp_path)
        assert (tmp_path / "plots" / "methods_robustness.png").exists()
        run = tmp_path
        write_results(sample_results, run / "results.csv")  # the primary and a baseline only
        reports.render_run(run)
        for name in ("report.md", "report.html"):
            assert "Methods compared" not in (run / name).read_text(encoding="utf-8")
        assert not list((run / "tables").glob("methods_*")) and not (run / "plots" / "methods_robustness.png").exists()
