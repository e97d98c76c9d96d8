"""How the learned baselines trained (manifest ``baseline_training``): their validation curves as a plot and
a table of budgets, so a reader sees each CNN reached its plateau, or which one did not learn."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fpbench.atomic import write_atomic
from fpbench.reports.palette import colour

TITLE = "Baselines: training to convergence (validation split of the training images)"


def training_table(manifest: dict | None) -> pd.DataFrame:
    """One row per fit: epochs run of the budget, best epoch, steps, seconds, best validation accuracy,
    chance, and whether it learned (empty without records)."""
    records = (manifest or {}).get("baseline_training") or {}
    rows = []
    for fit, r in records.items():
        best = r["val_accuracy"][max(r["best_epoch"], 1) - 1] if r["val_accuracy"] else float("nan")
        rows.append({"fit": fit, "epochs": f"{r['epochs']} of {r['budget_epochs']}", "best epoch": r["best_epoch"],
                     "steps": r["steps"], "seconds": f"{r['seconds']:.0f}", "val accuracy": f"{best:.3f}",
                     "chance": f"{r['chance']:.3f}", "learned": {True: "yes", False: "NO: rows left out", None: "too few to tell"}[r["learned"]]})
    return pd.DataFrame(rows)


def plot_training(manifest: dict | None, path: Path) -> Path | None:
    """Validation accuracy and loss per epoch of every fit, chance dashed; None without records."""
    records = (manifest or {}).get("baseline_training") or {}
    if not records:
        return None
    fig = Figure(figsize=(9.0, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    acc_ax, loss_ax = fig.subplots(1, 2)
    for fit, r in records.items():  # "yu2019/closed": the baseline's colour, a line style per world
        method, _, world = fit.partition("/")
        style = dict(color=colour(method.split("+")[0]), linestyle="--" if world == "open" else "-",
                     alpha=0.6 if "+" in method else 1.0)
        epochs = range(1, len(r["val_accuracy"]) + 1)
        acc_ax.plot(epochs, r["val_accuracy"], label=fit, **style)
        acc_ax.axhline(r["chance"], color=style["color"], linestyle=":", linewidth=0.8)
        loss_ax.plot(epochs, r["val_loss"], label=fit, **style)
        if r["best_epoch"]:
            loss_ax.plot([r["best_epoch"]], [r["val_loss"][r["best_epoch"] - 1]], "o", color=style["color"],
                         markersize=4)
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy ↑", ylim=(0, 1.02), title="accuracy (dotted: chance)")
    loss_ax.set(xlabel="epoch", ylabel="validation loss ↓", title="loss (dot: the weights kept)")
    loss_ax.set_yscale("log")
    acc_ax.legend(fontsize=7, loc="lower right")
    return write_atomic(path, lambda p: fig.savefig(p, dpi=110, format="png"))
