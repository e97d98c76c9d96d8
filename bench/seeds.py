"""Aggregate rows over seeds: one row per measurement identity with ``seed == AGGREGATE_SEED``.

``value`` is the mean over the seeds, ``stderr`` the standard error over seeds, ``ci_low``/``ci_high`` the
95% t-interval over seeds (k - 1 degrees of freedom; clipped to [0, 1] for fractions) and ``n`` the items
measured in all seeds together. Identities measured under fewer than two seeds get no aggregate row.
"""

from __future__ import annotations

import pandas as pd

from fpbench.metrics import METRICS
from fpbench.results import AGGREGATE_SEED, IDENTITY, Row, row
from fpbench.stats import over_seeds


def aggregate_over_seeds(df: pd.DataFrame) -> list[Row]:
    per_seed = df[df["seed"] != AGGREGATE_SEED]
    out: list[Row] = []
    for _, group in per_seed.groupby(list(IDENTITY), dropna=False, sort=False):
        if group["seed"].nunique() < 2:
            continue
        if group["seed"].duplicated().any():
            raise ValueError(f"two rows of one seed share an identity: {group.iloc[0][list(IDENTITY)].to_dict()}")
        first = group.iloc[0]
        metric = str(first["metric"])
        mean, se, ci = over_seeds([float(v) for v in group["value"]], bounded=METRICS.get(metric).unit == "fraction")
        out.append(row(method=first["method"], model=first["model"], attack=first["attack"],
                       attack_kind=first["attack_kind"], param=first["param"], severity=int(first["severity"]),
                       metric=metric, value=mean, stderr=se, n=int(group["n"].sum()), seed=AGGREGATE_SEED,
                       attack_version=int(first["attack_version"]), world=first["world"],
                       extractor=first["extractor"], fpr=first["fpr"], ci=ci))
    return out
