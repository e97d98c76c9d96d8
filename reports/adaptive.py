"""Rendering for the adaptive stage: the spectrum plot, success-vs-PSNR plot and best-success table.

Rendering only: every number comes from the results rows (``best_success`` only selects rows). The
spectrum plot is drawn by the adaptive stage, which has the images; the rest is re-rendered by
``reports.render_run`` from results.csv alone.
Figures use the Agg canvas directly (no pyplot state).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fpbench.atomic import write_atomic, write_text_atomic
from fpbench.reports.labels import GENERIC, AttackLabels

PSNR_LEVELS = (30.0, 25.0)

DPI = 110


def _figure(n: int, size: tuple[float, float] = (4.2, 3.6)) -> tuple[Figure, list]:
    fig = Figure(figsize=(size[0] * max(1, n) + 0.4, size[1] + 0.8), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, list(fig.subplots(1, max(1, n), squeeze=False).ravel())


def plot_spectrum(spectra: dict[str, np.ndarray], path: Path) -> Path | None:
    """One panel per source: mean amplitude spectrum of fingerprinted minus clean images (DC centred)."""
    if not spectra:
        return None
    fig, axes = _figure(len(spectra))
    for ax, (model, diff) in zip(axes, spectra.items(), strict=True):
        lim = float(np.abs(diff).max()) or 1.0
        im = ax.imshow(diff, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(f"{model}: |FFT| fingerprinted - clean")
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, shrink=0.8)
    return write_atomic(path, lambda p: fig.savefig(p, format="png", dpi=DPI))


def plot_success_vs_psnr(results: pd.DataFrame, path: Path, method: str = "artificial_fingerprint") -> Path | None:
    """Attack success rate against PSNR, one line per attack (points = grid values), one panel per model,
    for ``method`` (every method's rows where it was not measured: then one panel per method and model)."""
    df = results[(results["attack_kind"] == "adaptive") & results["metric"].isin(["attack_success_rate", "psnr"])]
    if (df["method"] == method).any():  # the paper's method; others where it was not measured
        df = df[df["method"] == method]
    wide = df.pivot_table(index=["method", "model", "attack", "param"], columns="metric",
                          values="value").reset_index()
    if wide.empty or not {"attack_success_rate", "psnr"} <= set(wide.columns):
        return None
    panels = sorted(set(zip(wide["method"], wide["model"], strict=True)))
    several = len({m for m, _ in panels}) > 1
    fig, axes = _figure(len(panels))
    for ax, (method_id, model) in zip(axes, panels, strict=True):
        here = wide[(wide["method"] == method_id) & (wide["model"] == model)]
        for attack, g in here.groupby("attack", sort=True):
            g = g[np.isfinite(g["psnr"])].sort_values("param")
            style = "--" if attack.startswith("forgery") else "-"
            ax.plot(g["psnr"], g["attack_success_rate"], style, marker="o", label=attack)
        for level in (30, 25):
            ax.axvline(level, color="grey", lw=0.8, ls=":")
        ax.set_title(f"{model} ({method_id})" if several else model)
        ax.set_xlabel("PSNR (dB) ↑")
        ax.set_ylabel("attack success rate")
        ax.set_ylim(-0.03, 1.03)
        ax.invert_xaxis()
    handles, labels = axes[0].get_legend_handles_labels()
    seen = dict(zip(labels, handles, strict=True))
    for ax in axes[1:]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lab, h)
    fig.legend(list(seen.values()), list(seen.keys()), loc="outside lower center", ncols=min(4, len(seen)),
               frameon=False)
    return write_atomic(path, lambda p: fig.savefig(p, format="png", dpi=DPI))


def best_success(results: pd.DataFrame, labels: AttackLabels | None = None,
                 levels: tuple[float, ...] = PSNR_LEVELS) -> pd.DataFrame:
    """Each (method, model, attack)'s highest ``attack_success_rate`` over grid values whose mean PSNR is at least
    each level: columns method, model, attack, min_psnr, best_success, param, psnr (NaN where no value qualifies).
    Grid values equal to the attack's neutral (no-op) value, as ``labels`` (from the manifest) give it,
    are not candidates."""
    df = results[(results["attack_kind"] == "adaptive") & results["metric"].isin(["attack_success_rate", "psnr"])]
    wide = df.pivot_table(index=["method", "model", "attack", "param"], columns="metric",
                          values="value").reset_index()
    out = []
    if not {"attack_success_rate", "psnr"} <= set(wide.columns):
        return pd.DataFrame(columns=["method", "model", "attack", "min_psnr", "best_success", "param", "psnr"])
    for (method, model, attack), g in wide.groupby(["method", "model", "attack"], sort=True):
        neutral = (labels or {}).get(attack, GENERIC).neutral
        if neutral is not None:
            g = g[g["param"] != neutral]  # a no-op grid value is not an attack
        for level in levels:
            ok = g[g["psnr"] >= level]
            best = ok.sort_values(["attack_success_rate", "psnr"], ascending=[False, False]).head(1)
            out.append({"method": method, "model": model, "attack": attack, "min_psnr": level,
                        "best_success": float(best["attack_success_rate"].iloc[0]) if len(best) else math.nan,
                        "param": float(best["param"].iloc[0]) if len(best) else math.nan,
                        "psnr": float(best["psnr"].iloc[0]) if len(best) else math.nan})
    return pd.DataFrame(out)


def _cell(value: float, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def best_success_display(table: pd.DataFrame) -> pd.DataFrame:
    """One row per method x model x attack, a column per PSNR level: ``success (param, PSNR dB)``."""
    levels = sorted(table["min_psnr"].unique(), reverse=True) if len(table) else []
    rows = []
    for (method, model, attack), g in table.groupby(["method", "model", "attack"], sort=True):
        row = {"method": method, "model": model, "attack": attack}
        for lv in levels:
            r = g[g["min_psnr"] == lv].iloc[0]
            row[f"best success ↑ at PSNR ≥ {lv:g} dB (param, PSNR)"] = (
                "-" if math.isnan(r["best_success"]) else
                f"{_cell(r['best_success'])} ({r['param']:g}, {_cell(r['psnr'], 1)} dB)")
        rows.append(row)
    return pd.DataFrame(rows)


def write_best_success(table: pd.DataFrame, out_dir: Path) -> list[Path]:
    """``adaptive_best_success.csv`` (numbers) and ``.md`` (one row per model x attack, a column per PSNR level)."""
    from fpbench.reports.format import to_markdown

    out_dir = Path(out_dir)
    return [write_atomic(out_dir / "adaptive_best_success.csv",
                         lambda p: table.to_csv(p, index=False, float_format="%.10g")),
            write_text_atomic(out_dir / "adaptive_best_success.md", to_markdown(best_success_display(table)))]
