"""Report page: render_run rebuilds tables, plots, report.md and a self-contained report.html."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from fpbench import reports
from fpbench.reports.plots import PLOT_NAMES
from fpbench.reports.tables import TABLE_NAMES
from fpbench.results import write_results

MANIFEST = {
    "preset": "smoke", "config_hash": "c0ffee12", "seeds": [0, 1], "device": "cpu", "git_commit": "abc1234",
    "package_versions": {"torch": "2.13.0", "pandas": "3.1.1"}, "stage_seconds": {"train": 12.5},
    "fid_extractor": "inception_tiny",
    "config": {"generators": [{"id": "progan_clean", "arch": "progan", "fingerprinted": False}]},
    "attacks": {"jpeg": {"param": "quality", "unit": "", "neutral": 100, "kind": "image", "category": "compression",
                         "version": 1}},
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, summarised_results):
    run = tmp_path_factory.mktemp("run")
    write_results(summarised_results, run / "results.csv")
    (run / "manifest.json").write_text(json.dumps(MANIFEST), encoding="utf-8")
    return run, reports.render_run(run)


class TestPage:
    def test_everything_written(self, rendered):
        run, html_path = rendered
        assert html_path == run / "report.html"
        assert (run / "report.md").is_file()
        assert {p.stem for p in (run / "tables").iterdir()} == set(TABLE_NAMES)
        assert {p.stem for p in (run / "plots").iterdir()} == set(PLOT_NAMES)

    def test_html_is_self_contained(self, rendered):
        html = rendered[1].read_text(encoding="utf-8")
        images = re.findall(r'<img [^>]*src="([^"]+)"', html)
        assert len(images) == len(PLOT_NAMES)
        assert all(src.startswith("data:image/png;base64,") for src in images)
        assert "<link" not in html and "<script" not in html

    @pytest.mark.parametrize("name", ["report.md", "report.html"])
    def test_manifest_keys_rendered(self, rendered, name):
        text = (rendered[0] / name).read_text(encoding="utf-8")
        for key in MANIFEST:
            assert key in text
        assert "c0ffee12" in text and "torch=2.13.0" in text and "inception_tiny" in text
        assert "<details><summary>config</summary>" in text and "fingerprinted" in text

    def test_markdown_links_plots_and_tables(self, rendered):
        text = (rendered[0] / "report.md").read_text(encoding="utf-8")
        for name in PLOT_NAMES:
            assert f"(plots/{name}.png)" in text
        for name in TABLE_NAMES:
            assert f"(tables/{name}.csv)" in text

    def test_headline_quotes_rows(self, rendered):
        text = (rendered[0] / "report.md").read_text(encoding="utf-8")
        assert "progan 0.980 ± 0.004, stylegan2 0.990 ± 0.004" in text  # transfer
        assert ("weight_noise (0.12) on progan, bit accuracy 0.865 ± 0.006 (FID 19.00 against 14.38 "
                "unattacked)") in text  # 0.70 at sigma 0.3 costs FID 77 > 2 x 14.38: over the budget
        assert "unseen progan: fingerprint 0.995 ± 0.008, best passive baseline yu2019 0.102 ± 0.030" in text

    def test_labels_come_from_the_manifest_not_the_attack_code(self, tmp_path, summarised_results):
        """A run renders with the parameter names it was measured with, whatever the registry says today;
        a manifest without them (an old run) shows the bare value."""
        jpeg = summarised_results[(summarised_results["attack"] == "jpeg")
                                  & (summarised_results["metric"] == "bit_accuracy")]
        psnr = jpeg.assign(metric="psnr", value=30.0, stderr=float("nan"), higher_is_better=True)
        write_results(pd.concat([summarised_results, psnr], ignore_index=True), tmp_path / "results.csv")
        renamed = {**MANIFEST, "attacks": {"jpeg": {"param": "q_factor", "unit": "", "neutral": None}}}
        (tmp_path / "manifest.json").write_text(json.dumps(renamed), encoding="utf-8")
        reports.render_run(tmp_path)
        assert "jpeg (q_factor 10) on progan" in (tmp_path / "report.md").read_text(encoding="utf-8")
        (tmp_path / "manifest.json").write_text(json.dumps({k: v for k, v in MANIFEST.items() if k != "attacks"}),
                                                encoding="utf-8")
        reports.render_run(tmp_path)
        assert "jpeg (10) on progan" in (tmp_path / "report.md").read_text(encoding="utf-8")

    def test_renders_without_manifest(self, tmp_path, results):
        clean = results[results["attack"] == "none"]
        write_results(clean, tmp_path / "results.csv")
        html = reports.render_run(tmp_path).read_text(encoding="utf-8")
        assert "Provenance" not in html
        assert not (tmp_path / "tables" / "robustness_image.csv").exists()

    @pytest.mark.parametrize("name", ["report.md", "report.html"])
    def test_robustness_summary_listed(self, rendered, name):
        text = (rendered[0] / name).read_text(encoding="utf-8")
        assert "Robustness summary: normalised area under bit accuracy vs severity" in text
        assert "robustness auc ↑ [fraction] (jpeg)" in text

    def test_old_results_without_interval_columns_render(self, tmp_path, results):
        results.drop(columns=["ci_low", "ci_high"]).to_csv(tmp_path / "results.csv", index=False)
        text = (reports.render_run(tmp_path).parent / "report.md").read_text(encoding="utf-8")
        assert "| 0.980 ± 0.002 |" in text  # the stderr, as before intervals existed
        assert not (tmp_path / "tables" / "robustness_summary.csv").exists()

    def test_invalid_results_refused(self, tmp_path, results):
        bad = results.assign(higher_is_better=True)  # wrong direction for p_value and fid
        bad.to_csv(tmp_path / "results.csv", index=False)
        with pytest.raises(ValueError, match="higher_is_better"):
            reports.render_run(tmp_path)

    def test_missing_results_csv(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="results.csv"):
            reports.render_run(tmp_path)
