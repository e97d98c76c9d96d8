"""Row-by-row comparison of two results tables, direction-aware (``fpbench compare RUN_A RUN_B``).

Rows are matched on the identity columns; a NaN ``param`` (the clean measurement) matches NaN, and so
does a NaN ``fpr`` (every metric but the TPRs; a table without the column reads as all NaN). Whether
a change is an improvement comes from the metric registry (``higher_is_better``), never from the sign.
Tolerance rules (a ``<name>.tolerance.json``, see ``reports.regression``) are matched to rows here, for
both ``compare`` and the regression check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from fpbench.metrics import METRICS
from fpbench.reports.format import format_number, format_param, metric_label
from fpbench.results import IDENTITY, NAN_EQUAL

OPTIONAL = {"world": "", "fpr": math.nan}  # identity columns older tables may lack, with their default
CHANGES = ("worse", "removed", "improved", "added", "unchanged")
FLOAT_SLACK = 1e-12  # so a move of exactly a (positive) tolerance stays inside it

Rule = tuple[dict[str, object], float]


def identity_keys(*frames: pd.DataFrame) -> list[str]:
    """The identity columns, plus ``seed`` when a frame holds several seeds of one measurement."""
    for df in frames:
        missing = [c for c in IDENTITY if c not in df.columns and c not in OPTIONAL]
        if missing:
            raise ValueError(f"results table lacks identity columns {missing}")
    keys = list(IDENTITY)
    if any(_with_world(df).duplicated(subset=keys).any() for df in frames):
        if all("seed" in df.columns for df in frames):
            keys.append("seed")
        if any(_with_world(df).duplicated(subset=keys).any() for df in frames):
            raise ValueError(f"rows are not unique on {keys}; cannot match them between runs")
    return keys


def _with_world(df: pd.DataFrame) -> pd.DataFrame:
    """The frame with every optional identity column (``world``, ``fpr``), added with its default."""
    missing = {c: v for c, v in OPTIONAL.items() if c not in df.columns}
    return df.assign(**missing) if missing else df


def direction(metric: str, fallback: object = True) -> bool:
    """``higher_is_better`` from the registry; a metric unknown to it keeps the table's own flag."""
    if metric in METRICS:
        return METRICS.get(metric).higher_is_better
    return bool(fallback) if fallback is not None and not pd.isna(fallback) else True


def improvement(metrics: pd.Series, old: pd.Series, new: pd.Series, higher_is_better: pd.Series) -> np.ndarray:
    """How much better ``new`` is than ``old``, per row (negative = worse): the signed change in the metric's
    direction, or for a metric with an ``ideal`` value (``fpbench.metrics``) how much closer to it ``new`` is,
    so a clean control drifting from 0.5 to 0.37 is as much worse as one drifting to 0.63."""
    old, new = old.to_numpy(float), new.to_numpy(float)
    ideal = np.array([METRICS.get(m).ideal if m in METRICS and METRICS.get(m).ideal is not None else np.nan
                      for m in metrics], dtype=float)
    two_sided = ~np.isnan(ideal)
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, judged by the caller
        signed = np.where(higher_is_better.to_numpy(bool), new - old, old - new)
        closer = np.abs(old - ideal) - np.abs(new - ideal)
    return np.where(two_sided, closer, signed)


def align(old: pd.DataFrame, new: pd.DataFrame, keys: list[str],
          extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Outer join of the two tables on ``keys`` (NaN == NaN in ``param`` and ``fpr``): identity columns, then
    ``old``, ``new`` (values), ``higher_is_better`` and ``_merge`` (``left_only`` = only in ``old``)."""
    def prep(df: pd.DataFrame, tag: str) -> pd.DataFrame:
        df = _with_world(df)
        cols = [*keys, "value", *[c for c in extra if c in df.columns]]
        if "higher_is_better" in df.columns:
            cols.append("higher_is_better")
        out = df[cols].rename(columns={"value": tag, "higher_is_better": f"hib_{tag}",
                                       **{c: f"{c}_{tag}" for c in extra}})
        for col in NAN_EQUAL:
            if col in keys:
                out[f"_{col}_nan"] = out[col].isna()
                out[col] = out[col].fillna(0.0)
        return out

    flags = [f"_{c}_nan" for c in NAN_EQUAL if c in keys]
    on = [*keys, *flags]
    merged = prep(old, "old").merge(prep(new, "new"), on=on, how="outer", indicator=True, sort=False)
    for col, flag in zip([c for c in NAN_EQUAL if c in keys], flags, strict=True):
        merged.loc[merged[flag], col] = math.nan
    hib_cols = [c for c in ("hib_new", "hib_old") if c in merged.columns]
    fallback = merged[hib_cols].bfill(axis=1).iloc[:, 0] if hib_cols else pd.Series(True, index=merged.index)
    merged["higher_is_better"] = [direction(m, f) for m, f in zip(merged["metric"], fallback, strict=True)]
    return merged.drop(columns=[*flags, *hib_cols])


def tolerance_rules(tolerance: pd.DataFrame | Mapping) -> list[Rule]:
    """Every accepted tolerance form as ``(match, tolerance)`` rules: a tolerance file's dict (``metrics``
    and ``rows``), a plain ``{metric: tolerance}`` dict, or a DataFrame (``metric``, ``tolerance`` and any
    identity columns to match exactly). Raises ``ValueError`` on a bad rule."""
    rules: list[Rule] = []
    if isinstance(tolerance, pd.DataFrame):
        if not {"metric", "tolerance"} <= set(tolerance.columns):
            raise ValueError("a tolerance table needs the columns 'metric' and 'tolerance'")
        cols = [c for c in (*IDENTITY, "seed") if c in tolerance.columns]
        for rec in tolerance.to_dict("records"):
            rules.append(({c: rec[c] for c in cols}, rec["tolerance"]))
    elif isinstance(tolerance, Mapping):
        structured = "metrics" in tolerance  # the tolerance-file form; else a plain {metric: tolerance}
        per_metric = tolerance["metrics"] if structured else tolerance
        rules += [({"metric": m}, tol) for m, tol in per_metric.items()]
        for rec in tolerance.get("rows", []) if structured else []:
            rec = dict(rec)
            tol = rec.pop("tolerance")
            unknown = set(rec) - {*IDENTITY, "seed"}
            if unknown:
                raise ValueError(f"tolerance row has unknown keys {sorted(unknown)}")
            rules.append((rec, tol))
    else:
        raise TypeError(f"tolerance must be a DataFrame or a dict, got {type(tolerance).__name__}")
    for match, tol in rules:
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not math.isfinite(tol) or tol < 0:
            raise ValueError(f"tolerance for {match} must be a finite number >= 0, got {tol!r}")
    return [(m, float(t)) for m, t in rules]


def _matches(match: dict[str, object], rec: dict) -> bool:
    for col, want in match.items():
        got = rec.get(col)
        if col in NAN_EQUAL or isinstance(want, float):
            want_nan = want is None or (isinstance(want, float) and math.isnan(want))
            got_nan = got is None or (isinstance(got, float) and math.isnan(got))
            if want_nan or got_nan:
                if want_nan != got_nan:
                    return False
                continue
            if float(want) != float(got):
                return False
        elif got != want:
            return False
    return True


def row_tolerances(rows: pd.DataFrame, rules: list[Rule]) -> np.ndarray:
    """The tolerance of each row: the most specific rule that matches it (most keys), NaN where none does."""
    def one(rec: dict) -> float:
        best: tuple[int, float] | None = None
        for match, tol in rules:
            if _matches(match, rec) and (best is None or len(match) > best[0]):
                best = (len(match), tol)
        return math.nan if best is None else best[1]

    return np.array([one(rec) for rec in rows.to_dict("records")], dtype=float)


def compare_runs(a: pd.DataFrame, b: pd.DataFrame, *, atol: float = 0.0,
                 tolerance: pd.DataFrame | Mapping | None = None) -> pd.DataFrame:
    """Compare run ``a`` (old) with run ``b`` (new), one line per measurement.

    A row's tolerance is that of the most specific ``tolerance`` rule matching it (any form
    :func:`tolerance_rules` takes, e.g. a tolerance file's dict), else ``atol``; a move of at most the
    tolerance is unchanged. Returns the identity columns and ``old``, ``new``, ``delta`` (new - old),
    ``tolerance``, ``higher_is_better`` and ``change`` in {worse, removed, improved, added, unchanged}.
    Sorted worst first.
    """
    if isinstance(atol, bool) or not isinstance(atol, (int, float)) or not math.isfinite(atol) or atol < 0:
        raise ValueError(f"atol must be a finite number >= 0, got {atol!r}")
    rules = tolerance_rules(tolerance) if tolerance is not None else []
    keys = identity_keys(a, b)
    merged = align(a, b, keys)
    merged["delta"] = merged["new"] - merged["old"]
    tol = row_tolerances(merged, rules)
    merged["tolerance"] = tol = np.where(np.isnan(tol), float(atol), tol)
    bound = tol + np.where(tol > 0, FLOAT_SLACK, 0.0)
    signed = improvement(merged["metric"], merged["old"], merged["new"], merged["higher_is_better"])
    change = np.select([signed > bound, signed < -bound], ["improved", "worse"], default="unchanged")
    change = np.where(merged["_merge"] == "left_only", "removed", change)
    change = np.where(merged["_merge"] == "right_only", "added", change)
    # a value that became NaN (or stopped being one) is a change worth seeing
    nan_new = merged["new"].isna() & merged["old"].notna() & (merged["_merge"] == "both")
    change = np.where(nan_new, "worse", change)
    merged["change"] = pd.Categorical(change, categories=CHANGES, ordered=True)
    merged = merged.drop(columns="_merge")
    merged = merged.sort_values(["change", "method", "model", "attack", "param", "metric", "fpr"],
                                na_position="first", kind="stable").reset_index(drop=True)
    merged["change"] = merged["change"].astype(str)
    return merged[[*keys, "old", "new", "delta", "tolerance", "higher_is_better", "change"]]


def metric_text(metric: str, fpr: float | None = None) -> str:
    """Short metric label for terminal tables, with the operating point of a TPR row (``@FPR 0.01``)."""
    label = metric_label(metric, unit=False)
    return label if fpr is None or pd.isna(fpr) else f"{label} @FPR {format_param(fpr)}"


def signed_number(delta: float, metric: str) -> str:
    """A difference with its sign (``+0.012``, ``-5.62``), formatted like the metric."""
    text = format_number(abs(delta), metric) if not pd.isna(delta) else format_number(math.nan)
    if pd.isna(delta) or delta == 0:
        return text
    return ("+" if delta > 0 else "-") + text


def text_table(rows: list[list[str]], header: list[str]) -> str:
    """Fixed-width plain-text table for the terminal."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(s.rstrip() for s in out)


def format_comparison(df: pd.DataFrame, *, show_unchanged: bool = False) -> str:
    """Terminal text of :func:`compare_runs`: a count per change, then the rows that moved, worse first."""
    counts = df["change"].value_counts()
    summary = ", ".join(f"{int(counts.get(c, 0))} {c}" for c in CHANGES)
    shown = df if show_unchanged else df[df["change"] != "unchanged"]
    order = {c: i for i, c in enumerate(CHANGES)}
    shown = shown.iloc[np.argsort([order[c] for c in shown["change"]], kind="stable")]
    if shown.empty:
        return f"{summary}\nno measurement moved."
    header = ["change", "method", "model", "attack", "param", "metric", "world", "old", "new", "delta"]
    rows = [
        [r["change"], r["method"], r["model"], r["attack"], format_param(r["param"]),
         metric_text(r["metric"], r.get("fpr")), r.get("world", ""), format_number(r["old"], r["metric"]),
         format_number(r["new"], r["metric"]), signed_number(r["delta"], r["metric"])]
        for r in shown.to_dict("records")
    ]
    return f"{summary}\n\n{text_table(rows, header)}"
