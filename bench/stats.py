"""Intervals for result rows: Wilson for rates over n trials, t for means, t over seeds for aggregates.

All intervals are two-sided 95%. Closed forms, tested against scipy (``binomtest(...).proportion_ci``
with ``method="wilson"``, ``scipy.stats.t.interval``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats

LEVEL = 0.95
NAN_PAIR = (math.nan, math.nan)


def wilson(rate: float, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval of a rate observed over ``n`` trials (``rate * n`` need not be an integer:
    a balanced accuracy is accepted and treated as a rate over its n decisions)."""
    if n <= 0 or not math.isfinite(rate):
        return NAN_PAIR
    z = float(stats.norm.ppf(0.5 + level / 2))
    denom = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(rate * (1 - rate), 0.0) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(mean: float, stderr: float, dof: int, *, bounded: bool = False,
                  level: float = LEVEL) -> tuple[float, float]:
    """``mean +- t(dof) * stderr``; clipped to [0, 1] when ``bounded``. NaN without a usable stderr."""
    if dof < 1 or not (math.isfinite(mean) and math.isfinite(stderr)):
        return NAN_PAIR
    half = float(stats.t.ppf(0.5 + level / 2, dof)) * stderr
    low, high = mean - half, mean + half
    return (max(0.0, low), min(1.0, high)) if bounded else (low, high)


def interval_for(kind: str, value: float, n: int, stderr: float, *, bounded: bool) -> tuple[float, float]:
    """The interval of one single-seed row by its metric's ``interval`` kind (``fpbench.metrics``)."""
    if kind == "wilson":
        return wilson(value, n)
    if kind == "mean":
        return mean_interval(value, stderr, n - 1, bounded=bounded)
    return NAN_PAIR


def over_seeds(values: Sequence[float], *, bounded: bool = False) -> tuple[float, float, tuple[float, float]]:
    """Mean, standard error and 95% t-interval of one measurement repeated over seeds (k >= 2 values)."""
    k = len(values)
    mean = math.fsum(values) / k
    if k < 2 or not all(math.isfinite(v) for v in values):
        return mean, math.nan, NAN_PAIR
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (k - 1))
    se = sd / math.sqrt(k)
    return mean, se, mean_interval(mean, se, k - 1, bounded=bounded)
