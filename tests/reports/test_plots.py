"""Plots: every PNG drawn from rows that exist, skipped otherwise, fixed colours, no open figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from bench.results import row, to_frame
from reports.palette import FIXED, colour, palette
from reports.plots import PLOT_NAMES, write_plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def plotted(tmp_path_factory, sample_results):
    out = tmp_path_factory.mktemp("plots")
    return out, write_plots(sample_results, out)


class TestPlots:
    def test_every_plot_written_as_png(self, plotted):
        out, written = plotted
        assert set(written) == set(PLOT_NAMES)
        for name in PLOT_NAMES:
            data = (out / f"{name}.png").read_bytes()
            assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000, name

    def test_no_figure_left_open(self, plotted):
        assert plt.get_fignums() == []

    def test_plots_skipped_without_rows(self, tmp_path):
        clean = to_frame([row(method="artificial_fingerprint", model="progan", metric="bit_accuracy",
                              value=0.98, n=10)])
        (tmp_path / "roc.png").write_bytes(b"stale")
        assert write_plots(clean, tmp_path) == {}
        assert list(tmp_path.iterdir()) == []

    def test_roc_from_the_fpr_column_clean_rows_only(self, tmp_path):
        attacked = {"attack": "jpeg", "attack_kind": "image", "param": 50.0, "severity": 0}
        rows = [row(method="artificial_fingerprint", model="progan", metric="tpr_at_fpr", value=0.8, n=10,
                    fpr=f, **attacked) for f in (0.01, 0.001)]
        assert "roc" not in write_plots(to_frame(rows), tmp_path)  # under attack: the robustness table's job
        rows += [row(method="artificial_fingerprint", model="progan", metric=m, value=0.9, n=10, fpr=f)
                 for m in ("tpr_at_fpr", "tpr_at_fpr_analytic") for f in (0.01, 0.001)]
        assert "roc" in write_plots(to_frame(rows), tmp_path)

    def test_method_comparison_needs_two_methods(self, tmp_path):
        rows = [row(method="artificial_fingerprint", model="progan", attack="jpeg", attack_kind="image",
                    param=q, severity=i, metric="attribution_accuracy", value=1.0, n=10)
                for i, q in enumerate((90.0, 50.0))]
        assert "robustness_methods" not in write_plots(to_frame(rows), tmp_path)


class TestPalette:
    def test_fixed_ids_keep_their_colour(self):
        assert colour("data") == "#000000"
        assert colour("artificial_fingerprint") == FIXED["artificial_fingerprint"]

    @pytest.mark.parametrize("name", ["my_new_gan", "method_x", "weight_noise"])
    def test_unknown_ids_are_deterministic(self, name):
        assert colour(name) == colour(name)
        assert colour(name).startswith("#") and len(colour(name)) == 7

    def test_palette_maps_every_name(self):
        assert palette(["data", "progan"]) == {"data": "#000000", "progan": FIXED["progan"]}
