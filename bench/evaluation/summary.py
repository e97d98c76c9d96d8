"""Summary rows computed from per-level result rows: one number per attack curve.

``robustness_auc``: the normalised area under bit accuracy against severity of one attack, the clean
measurement at x = 0 and grid level ``severity`` at x = severity + 1 (trapezoid rule, divided by the
x width). Aggregate rows (``seed == AGGREGATE_SEED``) are ignored: aggregation recomputes them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from fpbench.results import AGGREGATE_SEED, Row, row

CURVE_KINDS = ("image", "model")
CLEAN_KEY = ("method", "model", "seed", "world")
CURVE_KEY = ("method", "model", "attack", "seed", "world")


def normalised_area(x: Sequence[float], y: Sequence[float]) -> float:
    """Trapezoid area under ``y(x)`` divided by ``x[-1] - x[0]`` (``x`` increasing); one point: its y."""
    if len(x) == 1:
        return float(y[0])
    area = math.fsum((x1 - x0) * (y0 + y1) / 2 for x0, x1, y0, y1 in zip(x, x[1:], y, y[1:], strict=False))
    return area / (x[-1] - x[0])


def _unique(frame: pd.DataFrame, key: Sequence[str], what: str) -> pd.DataFrame:
    dup = frame.duplicated(subset=list(key))
    if dup.any():
        raise ValueError(f"several {what} bit_accuracy rows share {frame[dup].iloc[0][list(key)].to_dict()}")
    return frame


def robustness_auc_rows(rows: pd.DataFrame) -> list[Row]:
    """One ``robustness_auc`` row per (method, model, attack, seed, world) curve of ``bit_accuracy`` rows
    of an image or model attack that has a clean (attack ``none``) row; curves without one are skipped.
    ``n`` is the clean row's. ``rows``: a tidy results table (``fpbench.results``)."""
    acc = rows[(rows["metric"] == "bit_accuracy") & (rows["seed"] != AGGREGATE_SEED)]
    clean = _unique(acc[acc["attack"] == "none"], CLEAN_KEY, "clean")
    attacked = acc["attack_kind"].isin(CURVE_KINDS) & acc["param"].notna() & (acc["severity"] >= 0)
    curves = _unique(acc[attacked], (*CURVE_KEY, "severity"), "attacked")
    by_key = {tuple(r[c] for c in CLEAN_KEY): r for r in clean.to_dict("records")}
    out: list[Row] = []
    for (method, model, attack, seed, world), grp in curves.groupby(list(CURVE_KEY), sort=True):
        base = by_key.get((method, model, seed, world))
        if base is None:
            continue
        grp = grp.sort_values("severity")
        versions = grp["attack_version"].unique()
        if len(versions) != 1:
            raise ValueError(f"attack {attack!r}: rows of several versions {sorted(versions)} in one curve")
        x = [0.0, *(float(s) + 1 for s in grp["severity"])]
        y = [float(base["value"]), *grp["value"].astype(float)]
        out.append(row(method=method, model=model, attack=attack, attack_kind=grp["attack_kind"].iloc[0],
                       metric="robustness_auc", value=normalised_area(x, y), n=int(base["n"]), seed=int(seed),
                       world=world, attack_version=int(versions[0])))
    return out
