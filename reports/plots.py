"""Seaborn/matplotlib PNG plots of a results table; each plot is skipped when its rows do not exist.

Figures are built on the Agg canvas directly (``matplotlib.figure.Figure``), never through pyplot, so
no figure is kept open and no global backend is touched. Every plotted number is a row of the results
table: lines connect rows, error bars are their stderr, shaded bands their 95% interval; nothing is
averaged or fitted. Where a run aggregated seeds, the aggregate rows are drawn (:func:`select_seeds`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from fpbench.atomic import write_atomic
from fpbench.metrics import FPR_METRICS
from fpbench.reports.config import DEFAULT_CONFIG, ReportConfig
from fpbench.reports.format import metric_label
from fpbench.reports.labels import param_axis_label, param_text
from fpbench.reports.methods import compared, fingerprint_methods, method_label, source_label
from fpbench.reports.palette import colour
from fpbench.reports.tables import select_seeds

PLOT_NAMES = ("robustness_image", "robustness_methods", "model_attacks", "heatmap_strongest", "roc")
DPI = 110
# Columns that split lines when they vary (several seeds or worlds are drawn, never averaged).
SPLIT = ("seed", "world", "attack_version", "extractor")
WORLD_STYLE = {"": "-", "closed": "-", "open": "--"}


def _new_figure(n_panels: int, ncols: int = 3, size: tuple[float, float] = (4.2, 3.3)):
    ncols = max(1, min(ncols, n_panels))
    nrows = math.ceil(n_panels / ncols)
    fig = Figure(figsize=(size[0] * ncols + 0.4, size[1] * nrows + 1.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes[:n_panels])


def _save(fig: Figure, path: Path) -> Path:
    return write_atomic(path, lambda p: fig.savefig(p, format="png", dpi=DPI))


LEGEND_ROW_INCHES = 0.24


def _legend(fig: Figure, axes) -> None:
    """One legend for the figure, below the panels, each label once; the figure grows by the legend's height
    so the panels keep theirs (a run with many methods and generators has dozens of entries)."""
    seen: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    if seen:
        width_chars = fig.get_figwidth() * 11  # about 11 legend characters per inch at this font size
        per_entry = max(len(label) for label in seen) + 6
        ncols = max(1, min(4, len(seen), int(width_chars // per_entry)))
        fig.set_figheight(fig.get_figheight() + LEGEND_ROW_INCHES * math.ceil(len(seen) / ncols))
        fig.legend(list(seen.values()), list(seen.keys()), loc="outside lower center", ncols=ncols,
                   frameon=False)


def _splitting(rows: pd.DataFrame, keys: list[str]) -> list[str]:
    """Columns of :data:`SPLIT` needed so that no two rows share ``keys`` (seeds are drawn, not averaged)."""
    extra: list[str] = []
    for col in SPLIT:
        if not rows.duplicated(subset=keys + extra).any():
            break
        if col in rows and rows[col].nunique(dropna=False) > 1:
            extra.append(col)
    return extra


def _line_groups(rows: pd.DataFrame, keys: list[str], x: str = "param"):
    """Yield ``(key dict, rows sorted by severity/x)`` for every line to draw; ``x``: the x-axis column."""
    keys = keys + [c for c in _splitting(rows, [*keys, x]) if c not in keys]
    for values, grp in rows.groupby(keys, sort=True, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        yield dict(zip(keys, values, strict=True)), grp.sort_values([x, "severity"])  # lines run along the x axis


def _suffix(key: dict, skip: tuple[str, ...]) -> str:
    extra = [f"{k}={v}" for k, v in key.items() if k not in skip and v not in ("", None)]
    return f" ({', '.join(extra)})" if extra else ""


def _band(ax, grp: pd.DataFrame, x: str, color: str) -> None:
    """Shade the rows' 95% interval (``ci_low``..``ci_high``) around their line where it is finite."""
    if "ci_low" not in grp or "ci_high" not in grp:
        return
    finite = (grp["ci_low"].notna() & grp["ci_high"].notna()).to_numpy()
    if finite.any():
        low, high = grp["ci_low"].to_numpy(dtype=float), grp["ci_high"].to_numpy(dtype=float)
        ax.fill_between(grp[x].to_numpy(dtype=float), low, high, where=finite, color=color, alpha=0.2,
                        linewidth=0)


def _invert_if_falling(ax, rows: pd.DataFrame) -> None:
    """Put the weakest severity on the left even when the parameter falls as attacks get stronger."""
    ordered = rows.sort_values("severity")
    if len(ordered) > 1 and ordered["param"].iloc[0] > ordered["param"].iloc[-1]:
        ax.invert_xaxis()


def _bit_accuracy_panel(ax, rows: pd.DataFrame, attack: str, config: ReportConfig) -> None:
    """The frame of one attack's bit-accuracy panel: chance line, axis direction, title, labels, range."""
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1, label="chance (0.5)")
    _invert_if_falling(ax, rows)
    ax.set_title(attack.replace("_", " "))
    ax.set_xlabel(param_axis_label(attack, config.attack_labels))
    ax.set_ylabel(metric_label("bit_accuracy"))
    ax.set_ylim(min(0.4, float(rows["value"].min()) - 0.05), 1.02)


def plot_robustness(results: pd.DataFrame, path: Path, config: ReportConfig = DEFAULT_CONFIG) -> Path | None:
    """Paper Fig. 3: one panel per image attack, bit accuracy against the attack parameter, one line per
    model of the paper's method (``config.fingerprint_method``; every method where it was not measured;
    the methods side by side: :func:`plot_methods_robustness`) (fingerprinted real data dashed black), error bars = stderr, band = 95% interval, chance dotted."""
    results = select_seeds(results)
    rows = results[(results["attack_kind"] == "image") & (results["metric"] == "bit_accuracy")]
    if (rows["method"] == config.fingerprint_method).any():  # the others: methods_robustness
        rows = rows[rows["method"] == config.fingerprint_method]
    if rows.empty:
        return None
    attacks = sorted(rows["attack"].unique())
    many_methods = rows["method"].nunique() > 1
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):
        fig, axes = _new_figure(len(attacks))
        for ax, attack in zip(axes, attacks, strict=True):
            sub = rows[rows["attack"] == attack]
            groups = sorted(_line_groups(sub, ["method", "model"]),
                            key=lambda g: (config.model_rank(g[0]["model"]), config.method_rank(g[0]["method"])))
            for key, grp in groups:
                is_data = key["model"] == config.data_model
                label = key["model"] + (f" [{key['method']}]" if many_methods else "") + _suffix(key, ("method", "model"))
                ax.errorbar(grp["param"], grp["value"], yerr=grp["stderr"].fillna(0.0), label=label,
                            color=colour(key["model"]), marker="s" if is_data else "o", markersize=4,
                            linestyle="--" if is_data else WORLD_STYLE.get(key.get("world", ""), "-"),
                            capsize=2, linewidth=1.6)
                _band(ax, grp, "param", colour(key["model"]))
            _bit_accuracy_panel(ax, sub, attack, config)
        fig.suptitle("Bit accuracy under image perturbations")
        _legend(fig, axes)
        return _save(fig, path)


def methods_robustness_figure(results: pd.DataFrame, config: ReportConfig = DEFAULT_CONFIG) -> Figure | None:
    """Every fingerprinting method's bit accuracy under each image attack, one panel per attack: colour =
    method, solid on the stamped photos, dashed on generator samples (marker = generator), dash-dotted
    for a method at its own default strength; error bars = stderr, band = 95% interval. None unless
    several methods (:func:`reports.methods.fingerprint_methods`) have image-attack rows."""
    results = select_seeds(results)
    methods = fingerprint_methods(results, config)
    rows = results[(results["attack_kind"] == "image") & (results["metric"] == "bit_accuracy")
                   & results["method"].isin(methods)]
    rows = rows[[not config.is_clean(str(g)) and g != config.real_model for g in rows["model"]]]
    if rows.empty or not compared([m for m in methods if m in set(rows["method"])], config):
        return None
    attacks = sorted(rows["attack"].unique())
    generators = sorted((g for g in rows["model"].unique() if g != config.data_model), key=config.model_rank)
    markers = dict(zip(generators, "o^DvP*X<>", strict=False))
    rank = {m: i for i, m in enumerate(methods)}
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):
        fig, axes = _new_figure(len(attacks))
        for ax, attack in zip(axes, attacks, strict=True):
            sub = rows[rows["attack"] == attack]
            groups = sorted(_line_groups(sub, ["method", "model"]),
                            key=lambda g: (rank[g[0]["method"]], config.model_rank(g[0]["model"])))
            for key, grp in groups:
                base = config.own_default_of(key["method"])
                on_data = key["model"] == config.data_model
                color = colour(base or key["method"])
                label = (f"{method_label(key['method'], config)} / {source_label(key['model'], config)}"
                         + _suffix(key, ("method", "model")))
                ax.errorbar(grp["param"], grp["value"], yerr=grp["stderr"].fillna(0.0), label=label, color=color,
                            marker="s" if on_data else markers.get(key["model"], "o"), markersize=4, capsize=2,
                            linestyle="-." if base else "-" if on_data else "--", linewidth=1.6)
                _band(ax, grp, "param", color)
            _bit_accuracy_panel(ax, sub, attack, config)
        fig.suptitle("Bit accuracy under image perturbations, by fingerprinting method")
        drawn = [m for m in methods if m in set(rows["method"])]
        _key_legend(fig, [Line2D([], [], color=colour(config.own_default_of(m) or m), linewidth=2,
                                 linestyle="-." if config.own_default_of(m) else "-", label=method_label(m, config))
                          for m in drawn]
                    + [Line2D([], [], color="black", marker="s", markersize=4, label=source_label(config.data_model,
                                                                                                   config))]
                    + [Line2D([], [], color="black", marker=markers[g], markersize=4, linestyle="--",
                              label=source_label(g, config)) for g in generators]
                    + [Line2D([], [], color="grey", linestyle=":", linewidth=1, label="chance (0.5)")])
    return fig


def _key_legend(fig: Figure, handles: list[Line2D]) -> None:
    """A legend of key entries (colour = method, style = images) below the panels, as wide as fits."""
    width_chars = fig.get_figwidth() * 11  # as in :func:`_legend`
    per_entry = max(len(h.get_label()) for h in handles) + 6
    ncols = max(1, min(4, len(handles), int(width_chars // per_entry)))
    fig.set_figheight(fig.get_figheight() + LEGEND_ROW_INCHES * math.ceil(len(handles) / ncols))
    fig.legend(handles=handles, loc="outside lower center", frameon=False, ncols=ncols)


def plot_methods_robustness(results: pd.DataFrame, path: Path,
                            config: ReportConfig = DEFAULT_CONFIG) -> Path | None:
    """Draw :func:`methods_robustness_figure` into ``path``; None (nothing written) when it has no lines."""
    fig = methods_robustness_figure(results, config)
    return None if fig is None else _save(fig, path)


def plot_method_comparison(results: pd.DataFrame, path: Path,
                           config: ReportConfig = DEFAULT_CONFIG) -> Path | None:
    """Detection / attribution accuracy of every method under each image attack (rows: metric, columns:
    attack); colour = method, line style = world, marker = model, band = 95% interval. Drawn only when
    several methods exist."""
    results = select_seeds(results)
    metrics = [m for m in ("detection_accuracy", "attribution_accuracy") if m in set(results["metric"])]
    rows = results[(results["attack_kind"] == "image") & results["metric"].isin(metrics)]
    if rows.empty or rows["method"].nunique() < 2:
        return None
    metrics = [m for m in metrics if m in set(rows["metric"])]
    attacks = sorted(rows["attack"].unique())
    markers = _markers(rows, config)
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):
        fig, axes = _new_figure(len(metrics) * len(attacks))
        for i, metric in enumerate(metrics):
            for j, attack in enumerate(attacks):
                ax = axes[i * len(attacks) + j]
                sub = rows[(rows["metric"] == metric) & (rows["attack"] == attack)]
                for key, grp in sorted(_line_groups(sub, ["method", "model", "world"]),
                                       key=lambda g: config.method_rank(g[0]["method"])):
                    ax.errorbar(grp["param"], grp["value"], yerr=grp["stderr"].fillna(0.0),
                                color=colour(key["method"]), marker=markers[key["model"]],
                                markersize=4, linestyle=WORLD_STYLE.get(key["world"], "-"), capsize=2)
                    _band(ax, grp, "param", colour(key["method"]))
                if not sub.empty:
                    _invert_if_falling(ax, sub)
                ax.set_title(f"{attack.replace('_', ' ')}: {metric.replace('_', ' ')}")
                ax.set_xlabel(param_axis_label(attack, config.attack_labels))
                ax.set_ylabel(metric_label(metric))
                ax.set_ylim(-0.02, 1.02)
        fig.suptitle("Detection and attribution under image perturbations, by method")
        _key_legend(fig, _keys(rows, markers, config))
        return _save(fig, path)


def _markers(rows: pd.DataFrame, config: ReportConfig) -> dict[str, str]:
    """One marker per model (the data model a square)."""
    models = sorted(rows["model"].unique(), key=config.model_rank)
    shapes = iter("o^DvP*X<>ph8")
    return {m: "s" if m == config.data_model else next(shapes, "o") for m in models}


def _keys(rows: pd.DataFrame, markers: dict[str, str], config: ReportConfig,
          extra: tuple[Line2D, ...] = ()) -> list[Line2D]:
    """Key legend entries instead of one entry per line: colour = method, marker = model, style = world."""
    methods = sorted(rows["method"].unique(), key=config.method_rank)
    worlds = sorted(w for w in rows["world"].fillna("").unique() if w) if "world" in rows else []
    return ([Line2D([], [], color=colour(m), linewidth=2, label=m) for m in methods]
            + [Line2D([], [], color="black", marker=markers[m], markersize=4, linestyle="none", label=m)
               for m in markers]
            + [Line2D([], [], color="grey", linestyle=WORLD_STYLE.get(w, "-"), label=f"{w} world") for w in worlds]
            + list(extra))


def _paired(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Put each row's bit accuracy and FID side by side (a join, no arithmetic)."""
    acc = rows[rows["metric"] == "bit_accuracy"]
    fid = rows[rows["metric"] == "fid"]
    keys = keys + [c for c in ("seed", "world") if c in rows]
    paired = acc.merge(fid[[*keys, "value", "stderr"]], on=keys, suffixes=("", "_fid"))
    return paired.rename(columns={"value": "bit_accuracy", "value_fid": "fid"})


def plot_model_attacks(results: pd.DataFrame, path: Path,
                       config: ReportConfig = DEFAULT_CONFIG) -> Path | None:
    """Bit accuracy against FID under model perturbations: one panel per (method, model), one curve per
    attack, points labelled with the parameter; the unattacked model is a star (paper Sec. 5)."""
    results = select_seeds(results)
    keys = ["method", "model", "attack", "param"]
    pairs = _paired(results[results["attack_kind"] == "model"], keys)
    if pairs.empty:
        return None
    clean = _paired(results[results["attack"] == "none"], ["method", "model"])
    panels = sorted({(m, g) for m, g in zip(pairs["method"], pairs["model"], strict=True)},
                    key=lambda k: (config.method_rank(k[0]), config.model_rank(k[1])))
    attacks = sorted(pairs["attack"].unique())
    hues = dict(zip(attacks, sns.color_palette("tab10" if len(attacks) <= 10 else "tab20", len(attacks)),
                    strict=True))  # distinct colours within this plot
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):
        fig, axes = _new_figure(len(panels), ncols=2, size=(7.5, 5.0))
        for ax, (method, model) in zip(axes, panels, strict=True):
            sub = pairs[(pairs["method"] == method) & (pairs["model"] == model)]
            for attack, grp in sub.groupby("attack", sort=True):
                grp = grp.sort_values(["severity", "param"])
                ax.plot(grp["fid"], grp["bit_accuracy"], marker="o", markersize=4, color=hues[attack],
                        label=attack.replace("_", " "))
                last = grp.iloc[-1]  # label the strongest severity only; the table has every point
                ax.annotate(param_text(attack, last["param"], config.attack_labels), (last["fid"], last["bit_accuracy"]),
                            textcoords="offset points", xytext=(4, 3), fontsize=7, color=hues[attack])
            base = clean[(clean["method"] == method) & (clean["model"] == model)]
            if not base.empty:
                ax.plot(base["fid"], base["bit_accuracy"], marker="*", markersize=12, linestyle="none",
                        color="black", label="no attack")
            ax.axhline(0.5, color="grey", linestyle=":", linewidth=1, label="chance (0.5)")
            ax.set_xscale("symlog", linthresh=1.0)  # FID spans orders of magnitude across severities
            ax.set_xlim(left=0)
            ax.set_title(f"{model} ({method})")
            ax.set_xlabel(metric_label("fid") + " (symlog)")
            ax.set_ylabel(metric_label("bit_accuracy"))
        fig.suptitle("Bit accuracy vs. FID under model perturbations")
        _legend(fig, axes)
        return _save(fig, path)


def plot_heatmap(results: pd.DataFrame, path: Path, config: ReportConfig = DEFAULT_CONFIG) -> Path | None:
    """Bit accuracy of every (attack, model) at the attack's strongest severity in the run."""
    results = select_seeds(results)
    rows = results[(results["attack_kind"] != "none") & (results["metric"] == "bit_accuracy")]
    if rows.empty:
        return None
    strongest = rows[rows["severity"] == rows.groupby("attack")["severity"].transform("max")].copy()
    many_methods = strongest["method"].nunique() > 1
    split = _splitting(strongest, ["attack", "method", "model"])
    strongest["column"] = [
        (f"{r['method']} / " if many_methods else "") + r["model"] + "".join(f" {c}={r[c]}" for c in split)
        for r in strongest.to_dict("records")
    ]
    labels = {}
    for attack, grp in strongest.groupby("attack"):
        params = grp["param"].dropna().unique()
        labels[attack] = f"{attack} ({param_text(attack, float(params[0]), config.attack_labels)})" if len(params) == 1 else attack
    strongest["row"] = strongest["attack"].map(labels)
    kind_order = {"image": 0, "model": 1, "adaptive": 2}
    row_order = [labels[a] for a in sorted(labels, key=lambda a: (
        kind_order.get(strongest.loc[strongest["attack"] == a, "attack_kind"].iloc[0], 3), a))]
    grid = strongest.pivot(index="row", columns="column", values="value")
    col_order = sorted(grid.columns, key=lambda c: (config.model_rank(c.split(" / ")[-1].split(" ")[0]), c))
    grid = grid.loc[row_order, col_order]
    with sns.axes_style("white"), sns.plotting_context("notebook", font_scale=0.9):
        # room for the column labels, drawn upright under the map: long "method / model" ones need it
        label_height = 0.075 * max(len(str(c)) for c in grid.columns)
        fig = Figure(figsize=(4.0 + 1.2 * grid.shape[1], max(1.8, label_height) + 0.5 * grid.shape[0]),
                     layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        sns.heatmap(grid, ax=ax, annot=True, fmt=".3f", cmap="viridis", vmax=1.0,
                    vmin=min(0.4, float(np.nanmin(grid.to_numpy(dtype=float)))),
                    linewidths=0.5, cbar_kws={"label": metric_label("bit_accuracy")},
                    mask=grid.isna())
        ax.set_xlabel("model")
        ax.set_ylabel("attack (strongest setting)")
        ax.set_title("Bit accuracy at each attack's strongest severity")
        return _save(fig, path)


def plot_roc(results: pd.DataFrame, path: Path, config: ReportConfig = DEFAULT_CONFIG) -> Path | None:
    """TPR (y) against the operating point's FPR (x, the ``fpr`` column) of the clean measurement
    (attack ``none``), from ``tpr_at_fpr`` and ``tpr_at_fpr_analytic`` rows (the analytic threshold
    dash-dotted). TPRs under attack are in the robustness table (one line per attack level would not read)."""
    if "fpr" not in results.columns:
        return None
    results = select_seeds(results)
    rows = results[results["metric"].isin(FPR_METRICS) & results["fpr"].notna() & (results["attack"] == "none")]
    if rows.empty:
        return None
    keys = ["method", "model", "metric"]
    markers = _markers(rows, config)
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):
        fig, (ax,) = _new_figure(1, size=(6.0, 4.4))
        for key, grp in _line_groups(rows, keys, x="fpr"):
            grp = grp.sort_values("fpr")
            analytic = key["metric"] == "tpr_at_fpr_analytic"
            ax.errorbar(grp["fpr"], grp["value"], yerr=grp["stderr"].fillna(0.0), marker=markers[key["model"]],
                        markersize=4, capsize=2, color=colour(key["method"]),
                        linestyle="-." if analytic else WORLD_STYLE.get(key.get("world", ""), "-"))
        fpr = rows["fpr"].to_numpy(dtype=float)
        log = bool((fpr > 0).all() and fpr.max() / fpr.min() >= 10)
        lo = float(fpr.min()) if log else 0.0
        chance = np.geomspace(lo, 1.0, 50) if log else np.linspace(0.0, 1.0, 2)
        ax.plot(chance, chance, color="grey", linestyle=":", linewidth=1)
        if log:
            ax.set_xscale("log")
        ax.set_xlabel("false-positive rate [fraction]" + (" (log scale)" if log else ""))
        ax.set_ylabel(metric_label("tpr_at_fpr"))
        ax.set_ylim(-0.02, 1.02)
        ax.set_title("ROC points (TPR at fixed FPR)")
        extra = (Line2D([], [], color="grey", linestyle="-.", label="analytic threshold"),
                 Line2D([], [], color="grey", linestyle=":", linewidth=1, label="chance (TPR = FPR)"))
        _key_legend(fig, _keys(rows, markers, config, extra))
        return _save(fig, path)


PLOTTERS: dict[str, Callable[[pd.DataFrame, Path, ReportConfig], Path | None]] = {
    "robustness_image": plot_robustness,
    "robustness_methods": plot_method_comparison,
    "model_attacks": plot_model_attacks,
    "heatmap_strongest": plot_heatmap,
    "roc": plot_roc,
}


def write_plots(results: pd.DataFrame, out_dir: str | Path,
                config: ReportConfig = DEFAULT_CONFIG) -> dict[str, Path]:
    """Draw every plot whose rows exist into ``out_dir/NAME.png``; stale PNGs of skipped plots are
    removed. Returns ``{name: path}``."""
    out_dir = Path(out_dir)
    written = {}
    for name in PLOT_NAMES:
        path = out_dir / f"{name}.png"
        result = PLOTTERS[name](results, path, config)
        if result is None:
            path.unlink(missing_ok=True)
        else:
            written[name] = result
    return written

