"""Plots: every PNG drawn from rows that exist, skipped otherwise, fixed colours, no open figures."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba

from fpbench.reports import plots
from fpbench.reports.palette import FIXED, colour, palette
from fpbench.reports.plots import PLOT_NAMES, plot_method_comparison, plot_robustness, write_plots
from fpbench.results import AGGREGATE_SEED, row, to_frame

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


JPEG = ((90.0, 0.95), (50.0, 0.8), (10.0, 0.6))
NAN2 = (math.nan, math.nan)


def _curve(method="artificial_fingerprint", metric="bit_accuracy", seed=0, shift=0.0, ci=None, world=""):
    return [row(method=method, model="progan", attack="jpeg", attack_kind="image", param=q, severity=i,
                metric=metric, value=a + shift, n=100, stderr=0.01, seed=seed, world=world,
                ci=None if ci is None else ci(a + shift))
            for i, (q, a) in enumerate(JPEG)]


@pytest.fixture()
def figures(monkeypatch):
    """The figures the plot functions draw, kept instead of saved as PNG."""
    drawn = []

    def keep(fig, path):
        drawn.append(fig)
        return path

    monkeypatch.setattr(plots, "_save", keep)
    return drawn


def _bands(ax) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


class TestBands:
    def test_band_around_each_robustness_line(self, figures, tmp_path):
        rows = _curve(ci=lambda v: (v - 0.03, v + 0.02))
        assert plot_robustness(to_frame(rows), tmp_path / "p.png") is not None
        (ax,) = [a for a in figures[0].axes if a.get_visible() and a.get_title()]
        (band,) = _bands(ax)
        assert band.get_alpha() == pytest.approx(0.2)
        assert np.allclose(band.get_facecolor()[0][:3], to_rgba(colour("progan"))[:3])
        ys = band.get_paths()[0].vertices[:, 1]
        assert ys.min() == pytest.approx(0.57) and ys.max() == pytest.approx(0.97)

    def test_no_band_without_interval(self, figures, tmp_path):
        plot_robustness(to_frame(_curve(ci=lambda v: NAN2)), tmp_path / "p.png")
        assert all(_bands(ax) == [] for ax in figures[0].axes)

    def test_band_in_method_comparison(self, figures, tmp_path):
        rows = [r for m in ("artificial_fingerprint", "yu2019")
                for r in _curve(method=m, metric="attribution_accuracy", world="closed")]  # Wilson intervals
        assert plot_method_comparison(to_frame(rows), tmp_path / "p.png") is not None
        (ax,) = [a for a in figures[0].axes if a.get_visible()]
        assert len(_bands(ax)) == 2

    def test_aggregate_rows_drawn_instead_of_seeds(self, figures, tmp_path):
        rows = _curve(seed=0) + _curve(seed=1, shift=-0.1)
        rows += _curve(seed=AGGREGATE_SEED, shift=-0.05, ci=lambda v: (v - 0.05, v + 0.05))
        plot_robustness(to_frame(rows), tmp_path / "p.png")
        ax = figures[0].axes[0]
        (bars,) = ax.containers  # one error-bar line, labelled without a seed
        assert bars.get_label() == "progan"
        assert np.allclose(bars.lines[0].get_ydata().astype(float), sorted(a - 0.05 for _, a in JPEG))
        assert len(_bands(ax)) == 1

    def test_seeds_drawn_apart_without_aggregates(self, figures, tmp_path):
        plot_robustness(to_frame(_curve(seed=0) + _curve(seed=1, shift=-0.1)), tmp_path / "p.png")
        labels = [c.get_label() for c in figures[0].axes[0].containers]
        assert labels == ["progan (seed=0)", "progan (seed=1)"]


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
