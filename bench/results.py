"""The one tidy results table: one row per measured number, plus a validator.

Columns (DESIGN.md contract): method, model, attack, attack_kind, param, severity, metric, value, n,
higher_is_better, and the extras stderr, seed, attack_version, world, extractor, fpr, ci_low, ci_high.
Numbers are numbers;
``param`` is NaN for the clean measurement; ``severity`` is the level index within the grid used
(0 = weakest), -1 for ``attack == "none"``; ``fpr`` is the operating point's false-positive rate of
``tpr_at_fpr*`` rows (NaN for every other metric), so ``param`` stays the attack strength.

``ci_low`` / ``ci_high``: a 95% interval. For one seed it comes from the metric's ``interval`` kind
(:mod:`fpbench.stats`): Wilson over the ``n`` trials for rates, mean +- t * stderr for means; NaN where the
metric has none. Rows with ``seed == AGGREGATE_SEED`` (-1) aggregate several seeds' rows of one identity:
``value`` is their mean, ``stderr`` the standard error over seeds, the interval a t-interval over seeds and
``n`` the images measured in all seeds together.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

from fpbench.atomic import write_atomic
from fpbench.metrics import FPR_METRICS, METRICS
from fpbench.stats import interval_for

ATTACK_KINDS = ("none", "image", "model", "adaptive")
WORLDS = ("", "closed", "open")


@dataclass(frozen=True)
class Row:
    method: str
    model: str
    attack: str
    attack_kind: str
    param: float
    severity: int
    metric: str
    value: float
    n: int
    higher_is_better: bool
    stderr: float = math.nan
    seed: int = 0
    attack_version: int = 0
    world: str = ""
    extractor: str = ""
    fpr: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Row))
NUMERIC = ("param", "value", "stderr", "fpr", "ci_low", "ci_high")
INTEGER = ("severity", "n", "seed", "attack_version")
TEXT = ("method", "model", "attack", "attack_kind", "metric", "world", "extractor")
# The one row identity: what makes two rows the same measurement, in one run or across runs (results,
# compare, the regression check and the spread script all use it). NaN equals NaN in ``param`` and ``fpr``.
IDENTITY = ("method", "model", "attack", "attack_kind", "param", "metric", "fpr", "world")
NAN_EQUAL = ("param", "fpr")
# Within one table the seed tells repeats apart: no two rows share KEY.
KEY = (*IDENTITY, "seed")
AGGREGATE_SEED = -1  # ``seed`` of rows aggregated over seeds


def row(
    *,
    method: str,
    model: str,
    metric: str,
    value: float,
    n: int,
    attack: str = "none",
    attack_kind: str = "none",
    param: float = math.nan,
    severity: int = -1,
    stderr: float = math.nan,
    seed: int = 0,
    attack_version: int = 0,
    world: str = "",
    extractor: str = "",
    fpr: float = math.nan,
    ci: tuple[float, float] | None = None,
) -> Row:
    """Build one validated row; the direction comes from the metric registry, never from the caller, and
    so does the 95% interval unless ``ci`` gives one (aggregates over seeds do)."""
    spec = METRICS.get(metric)
    if attack_kind not in ATTACK_KINDS:
        raise ValueError(f"attack_kind must be one of {ATTACK_KINDS}, got {attack_kind!r}")
    if world not in WORLDS:
        raise ValueError(f"world must be one of {WORLDS}, got {world!r}")
    low, high = ci if ci is not None else interval_for(spec.interval, float(value), int(n), float(stderr),
                                                      bounded=spec.unit == "fraction")
    return Row(
        method=method, model=model, attack=attack, attack_kind=attack_kind, param=float(param),
        severity=int(severity), metric=metric, value=float(value), n=int(n),
        higher_is_better=spec.higher_is_better, stderr=float(stderr), seed=int(seed),
        attack_version=int(attack_version), world=world, extractor=extractor, fpr=float(fpr),
        ci_low=float(low), ci_high=float(high),
    )


def to_frame(rows: Iterable[Row]) -> pd.DataFrame:
    df = pd.DataFrame([asdict(r) for r in rows], columns=list(COLUMNS))
    return coerce(df)


def rows_from_frame(df: pd.DataFrame) -> list[Row]:
    """The inverse of :func:`to_frame` (e.g. for result frames read back from the cache)."""
    df = coerce(df)
    names = [f.name for f in fields(Row)]
    return [Row(**{k: getattr(r, k) for k in names}) for r in df.itertuples(index=False)]


def coerce(df: pd.DataFrame) -> pd.DataFrame:
    """Give a table read from CSV the schema's dtypes (empty text cells become ''); a table written before
    the ``fpr``, ``ci_low`` or ``ci_high`` columns existed gets them, all NaN."""
    df = df.copy()
    for col in ("fpr", "ci_low", "ci_high"):
        if col not in df.columns and {"metric", "value"} <= set(df.columns):
            df[col] = math.nan
    if set(COLUMNS) <= set(df.columns):  # the schema's order, whatever order the file had
        df = df[[*COLUMNS, *(c for c in df.columns if c not in COLUMNS)]]
    for col in TEXT:
        if col in df:  # an all-empty text column reads from CSV as float NaN: fill it as objects
            df[col] = df[col].astype(object).where(df[col].notna(), "").astype(str)
    empty = len(df) == 0  # no rows yet (a run that failed in its data stage): the schema's dtypes all the same
    for col in NUMERIC:
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float) if df[col].dtype != object or empty \
                else df[col]
    for col in INTEGER:
        if col in df and (df[col].dtype != object or empty):
            df[col] = df[col].astype("int64")
    if "higher_is_better" in df and (df["higher_is_better"].dtype != object or empty):
        df["higher_is_better"] = df["higher_is_better"].astype(bool)
    return df


def validate(df: pd.DataFrame) -> list[str]:
    """List every problem with a results table (empty list = valid)."""
    problems: list[str] = []
    missing = [c for c in ("method", "model", "attack", "attack_kind", "param", "severity", "metric",
                           "value", "n", "higher_is_better") if c not in df.columns]
    if missing:
        return [f"missing columns: {', '.join(missing)}"]
    for col in ("param", "value", "stderr", "fpr", "ci_low", "ci_high", "severity", "n"):
        if col in df.columns and not pd.api.types.is_numeric_dtype(df[col]):
            problems.append(f"column {col!r} must be numeric, found {df[col].dtype} (numbers stored as text?)")
    if not pd.api.types.is_bool_dtype(df["higher_is_better"]):
        problems.append(f"column 'higher_is_better' must be boolean, found {df['higher_is_better'].dtype}")
    for metric in sorted(set(df["metric"].astype(str))):
        if metric not in METRICS:
            problems.append(METRICS.unknown_message(metric))
            continue
        want = METRICS.get(metric).higher_is_better
        got = set(df.loc[df["metric"] == metric, "higher_is_better"].tolist())
        if got != {want}:
            problems.append(f"metric {metric!r} must have higher_is_better={want}, found {sorted(got)}")
    bad_kind = sorted(set(df["attack_kind"].astype(str)) - set(ATTACK_KINDS))
    if bad_kind:
        problems.append(f"unknown attack_kind values {bad_kind}; valid: {ATTACK_KINDS}")
    if "world" in df.columns:
        bad_world = sorted(set(df["world"].fillna("").astype(str)) - set(WORLDS))
        if bad_world:
            problems.append(f"unknown world values {bad_world}; valid: {WORLDS}")
    clean = df["attack"].astype(str) == "none"
    if (df.loc[clean, "attack_kind"].astype(str) != "none").any():
        problems.append("rows with attack 'none' must have attack_kind 'none'")
    if pd.api.types.is_numeric_dtype(df["value"]) and df["value"].isna().any():
        problems.append(f"{int(df['value'].isna().sum())} rows have no value")
    # NaN may mean "not measured"; +-inf is never a measurement, except +inf of an unbounded metric (the PSNR of
    # an attack that left the images as they were)
    unbounded = df["metric"].astype(str).map(lambda m: m in METRICS and METRICS.get(m).unbounded).astype(bool)
    for col in ("value", "stderr", "ci_low", "ci_high"):
        if col in df.columns and pd.api.types.is_numeric_dtype(df[col]):
            infinite = df[col].isin([-math.inf]) | (df[col].isin([math.inf]) & ~unbounded)
            if infinite.any():
                first = df.loc[infinite].iloc[0]
                problems.append(f"{int(infinite.sum())} rows have an infinite {col!r} (first: {first['metric']} of "
                                f"{first['model']} under {first['attack']}): a measurement overflowed")
    if "fpr" in df.columns and pd.api.types.is_numeric_dtype(df["fpr"]):
        at_fpr = df["metric"].astype(str).isin(FPR_METRICS)
        fpr = df["fpr"]
        if (at_fpr & ~((fpr > 0) & (fpr < 1))).any():
            problems.append(f"rows of {FPR_METRICS} need their operating point in 'fpr', a rate in (0, 1)")
        if (~at_fpr & fpr.notna()).any():
            problems.append(f"only rows of {FPR_METRICS} may have an 'fpr' (NaN for every other metric)")
    elif df["metric"].astype(str).isin(FPR_METRICS).any():
        problems.append(f"rows of {FPR_METRICS} need the column 'fpr' (their false-positive rate)")
    key = [c for c in KEY if c in df.columns]
    dup = df.duplicated(subset=key, keep=False)
    if dup.any():
        problems.append(f"{int(dup.sum())} rows share the same ({', '.join(key)})")
    return problems


def read_results(path: str | Path) -> pd.DataFrame:
    df = pd.read_csv(path, keep_default_na=True)
    return coerce(df)


def write_results(df: pd.DataFrame, path: str | Path) -> Path:
    problems = validate(df)
    if problems:
        raise ValueError("refusing to write an invalid results table:\n- " + "\n- ".join(problems))
    return write_atomic(path, lambda p: df.to_csv(p, index=False, float_format="%.10g"))
