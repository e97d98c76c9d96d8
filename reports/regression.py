"""Direction-aware regression check of a run against committed reference numbers.

A row FAILS when its metric moved in the bad direction (registry ``higher_is_better``; for a metric with
an ``ideal`` value, away from it, either way) by more than its absolute tolerance, when its value is not a
finite number where the reference's was (NaN or +-inf are errors, never improvements), or when it is
missing from the current run. Improvements beyond tolerance are reported, never failed; rows new in the
current run are listed.

Files (``reports/reference/``, written only on purpose by :func:`update_reference`):

- ``<preset>.csv``: the reference rows, a valid results table (``fpbench.results`` schema).
- ``<preset>.tolerance.json``::

      {"format": 1, "preset": "quick", "source": "runs/quick/results.csv", "created": "...",
       "rule": "...", "k": 3.0, "note": "how the spread was measured",
       "spread": {"bit_accuracy": 0.004, ...},   # measured run-to-run spread, per metric
       "floor":  {"bit_accuracy": 0.005, ...},   # smallest tolerance allowed, per metric
       "metrics": {"bit_accuracy": 0.012, ...},  # tolerance = max(k * spread, floor)
       "rows": [{"model": "progan", "attack": "jpeg", "param": 10, "metric": "bit_accuracy",
                 "tolerance": 0.03}]}            # per-row tolerances; absent keys match anything,
                                                 # null matches NaN (``param``, ``fpr``)

A tolerance given as a plain ``{metric: tolerance}`` dict or as a DataFrame (``metric``, ``tolerance``
and any identity columns to match exactly) works too. The most specific matching rule wins.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from fpbench.atomic import write_json_atomic
from fpbench.metrics import METRICS
from fpbench.reports.compare import (
    FLOAT_SLACK,
    align,
    identity_keys,
    improvement,
    metric_text,
    row_tolerances,
    signed_number,
    text_table,
    tolerance_rules,
)
from fpbench.reports.format import format_number, format_param
from fpbench.results import IDENTITY, coerce, read_results, validate, write_results

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
FORMAT_VERSION = 1
# Timing is pytest-benchmark's job (STYLE.md #11); it is left out of accuracy references by default.
TIMING_METRICS = ("seconds", "images_per_second")
# Default floors by unit: differences smaller than these are numerical noise, not regressions.
DEFAULT_FLOORS = {"fraction": 0.005, "probability": 0.005, "log10 probability": 0.5, "FID": 0.5, "dB": 0.1}
FALLBACK_FLOOR = 1e-6
STATUSES = ("invalid", "worse", "missing", "improved", "within", "new")
FAILING = ("invalid", "worse", "missing")
RULE = ("tolerance = max(k * spread, floor), absolute, per metric; per row (full identity incl. fpr) where the "
        "row spread was measured: max(k * row std, margin * largest shortfall of a measured run "
        "from the reference in the metric's bad direction, metric floor, the reference row's own 95% interval on "
        "its bad side); a row fails when it moves in its metric's bad direction (away from its ideal value for "
        "two-sided metrics) by more than its tolerance, is not finite where the reference is, or is missing")


@dataclass(frozen=True)
class RegressionReport:
    """Outcome of :func:`check_regression`. ``rows``: one line per reference or current row with the
    identity columns, ``reference``, ``current``, ``delta`` (current - reference), ``tolerance``,
    ``higher_is_better`` and ``status`` in {worse, missing, improved, within, new}."""

    rows: pd.DataFrame

    @property
    def passed(self) -> bool:
        return not self.rows["status"].isin(FAILING).any()

    @property
    def failures(self) -> pd.DataFrame:
        return self.rows[self.rows["status"].isin(FAILING)]

    @property
    def improved(self) -> pd.DataFrame:
        return self.rows[self.rows["status"] == "improved"]

    @property
    def moved(self) -> pd.DataFrame:
        """Every row that is not within tolerance (failures, improvements, new rows)."""
        return self.rows[self.rows["status"] != "within"]

    def summary(self) -> str:
        counts = self.rows["status"].value_counts()
        head = "regression check PASSED" if self.passed else "regression check FAILED"
        text = head + ": " + ", ".join(f"{int(counts.get(s, 0))} {s}" for s in STATUSES)
        moved = self.moved
        if moved.empty:
            return text
        header = ["status", "method", "model", "attack", "param", "metric", "world", "reference", "current",
                  "delta", "tolerance"]
        rows = [
            [r["status"], r["method"], r["model"], r["attack"], format_param(r["param"]),
             metric_text(r["metric"], r.get("fpr")), r.get("world", ""), format_number(r["reference"], r["metric"]),
             format_number(r["current"], r["metric"]),
             signed_number(r["delta"], r["metric"]),
             format_number(r["tolerance"], r["metric"]) if not pd.isna(r["tolerance"]) else "–"]
            for r in moved.to_dict("records")
        ]
        return f"{text}\n\n{text_table(rows, header)}"

    def __str__(self) -> str:
        return self.summary()


def check_regression(current: pd.DataFrame, reference: pd.DataFrame,
                     tolerance: pd.DataFrame | Mapping) -> RegressionReport:
    """Compare ``current`` with ``reference`` row by row; see the module docstring for the rules.

    Raises ``ValueError`` when a reference row has no tolerance (every checked number needs a stated
    one) or when rows cannot be matched unambiguously.
    """
    rules = tolerance_rules(tolerance)
    keys = identity_keys(current, reference)
    merged = align(reference, current, keys).rename(columns={"old": "reference", "new": "current"})
    merged["tolerance"] = np.where(merged["_merge"] != "right_only", row_tolerances(merged, rules), math.nan)
    lacking = sorted(set(merged.loc[(merged["_merge"] != "right_only") & merged["tolerance"].isna(), "metric"]))
    if lacking:
        raise ValueError(f"no tolerance for metric(s) {lacking}; add them to the tolerance file")
    merged["delta"] = merged["current"] - merged["reference"]
    signed = improvement(merged["metric"], merged["reference"], merged["current"], merged["higher_is_better"])
    status = np.select([signed < -(merged["tolerance"] + FLOAT_SLACK), signed > merged["tolerance"] + FLOAT_SLACK],
                       ["worse", "improved"], default="within")
    current, reference = merged["current"].to_numpy(float), merged["reference"].to_numpy(float)
    same = (current == reference) | (np.isnan(current) & np.isnan(reference))
    invalid = ~same & (~np.isfinite(current) | ~np.isfinite(reference))  # inf/NaN: never a number to trust
    status = np.where(invalid, "invalid", status)
    status = np.where(merged["_merge"] == "left_only", "missing", status)
    status = np.where(merged["_merge"] == "right_only", "new", status)
    merged["status"] = pd.Categorical(status, categories=STATUSES, ordered=True)
    merged = merged.sort_values(["status", "method", "model", "attack", "param", "metric", "fpr"],
                                na_position="first", kind="stable").reset_index(drop=True)
    merged["status"] = merged["status"].astype(str)
    cols = [*keys, "reference", "current", "delta", "tolerance", "higher_is_better", "status"]
    return RegressionReport(merged[cols])


def _floor_for(metric: str, floor: float | Mapping[str, float] | None) -> float:
    if isinstance(floor, (int, float)) and not isinstance(floor, bool):
        return float(floor)
    if isinstance(floor, Mapping) and metric in floor:
        return float(floor[metric])
    unit = METRICS.get(metric).unit if metric in METRICS else ""
    return DEFAULT_FLOORS.get(unit, FALLBACK_FLOOR)


def read_spread(path: str | Path) -> dict[str, float]:
    """Spread file: a CSV with columns ``metric`` and ``spread`` (one row per metric)."""
    table = pd.read_csv(path)
    if not {"metric", "spread"} <= set(table.columns):
        raise ValueError(f"{path}: a spread file needs the columns 'metric' and 'spread'")
    if table["metric"].duplicated().any():
        raise ValueError(f"{path}: a metric appears twice")
    return {str(m): float(v) for m, v in zip(table["metric"], table["spread"], strict=True)}


def read_row_spread(path: str | Path) -> pd.DataFrame:
    """Per-row spread file (``scripts/measure_spread.py``): the identity columns, ``std`` and ``max_distance``,
    and from newer files ``max_shortfall`` (the largest distance in the metric's bad direction)."""
    table = coerce(pd.read_csv(path))  # the results schema's text handling (empty world -> "")
    need = {*IDENTITY, "std", "max_distance"}
    if not need <= set(table.columns):
        raise ValueError(f"{path}: a row-spread file needs the columns {sorted(need)}")
    return table


def _identity(rec: Mapping) -> tuple:
    return tuple(None if isinstance(rec[c], float) and math.isnan(rec[c]) else rec[c] for c in IDENTITY)


def interval_slack(results: pd.DataFrame) -> dict[tuple, float]:
    """Per row identity of ``results``: how far its own 95% interval reaches on the metric's bad side
    (below the value for higher-is-better metrics, above it otherwise, the wider side for two-sided
    ones). A move that the reference's own sampling interval covers (2 of 32 images) is not evidence of a
    regression; ten runs' spread underestimates it for small-n rows. Rows without an interval: none."""
    if not {"ci_low", "ci_high"} <= set(results.columns):
        return {}
    out = {}
    for rec in results.to_dict("records"):
        value, low, high = (float(rec[c]) for c in ("value", "ci_low", "ci_high"))
        if not all(math.isfinite(v) for v in (value, low, high)):
            continue
        spec = METRICS.get(rec["metric"]) if rec["metric"] in METRICS else None
        if spec is not None and spec.ideal is not None:
            slack = max(value - low, high - value)
        else:
            slack = value - low if bool(rec["higher_is_better"]) else high - value
        out[_identity(rec)] = max(0.0, slack)
    return out


def _row_rules(row_spread: pd.DataFrame, keep: list[str], floors: dict[str, float], k: float,
               margin: float, slack: Mapping[tuple, float] | None = None) -> list[dict]:
    rules = []
    for rec in row_spread[row_spread["metric"].isin(keep)].to_dict("records"):
        # the check fails a row only in its bad direction, so the runs that fell short of the reference say
        # how far an honest run falls; files from before the shortfall column use the distance either way
        worst = rec.get("max_shortfall", math.nan)
        std, distance = float(rec["std"]), float(worst if pd.notna(worst) else rec["max_distance"])
        if not (math.isfinite(std) and math.isfinite(distance)):
            continue  # a row whose measured runs were not finite: the metric's tolerance applies
        identity = _identity(rec)
        match = dict(zip(IDENTITY, identity, strict=True))
        tol = max(k * std, margin * distance, floors[rec["metric"]], (slack or {}).get(identity, 0.0))
        rules.append({**match, "tolerance": float(tol)})
    return rules


def update_reference(results_csv: str | Path, preset: str, spread: Mapping[str, float] | str | Path | None,
                     *, row_spread: pd.DataFrame | str | Path | None = None, margin: float = 1.5,
                     k: float = 3.0,
                     floor: float | Mapping[str, float] | None = None, metrics: Iterable[str] | None = None,
                     note: str = "", reference_dir: str | Path,
                     keep_wider: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``<preset>.csv`` and ``<preset>.tolerance.json`` (each atomically) from a run's results into
    ``reference_dir`` (a folder the caller names: never the installed package; the repository's is
    ``reports/reference``).

    ``spread``: measured run-to-run spread per metric, as a dict or a CSV path (:func:`read_spread`);
    say how it was measured in ``note``; every kept metric needs one. Tolerance per metric = ``max(k * spread, floor)``; ``floor`` defaults by unit
    (:data:`DEFAULT_FLOORS`). ``metrics`` defaults to every metric in the run except timing.
    ``keep_wider``: a previous ``<preset>.tolerance.json`` (say, measured on another kind of machine) whose
    tolerances stay where they are wider: each metric's and each row's tolerance is the larger of the two,
    and a row rule only the previous file has is kept, so what that machine measured stays covered.
    Returns ``(csv_path, tolerance_path)``. Run on purpose only: it replaces the committed numbers.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", preset):
        raise ValueError(f"preset name {preset!r} is not a plain file name")
    if not (isinstance(k, (int, float)) and math.isfinite(k) and k > 0):
        raise ValueError(f"k must be a positive number, got {k!r}")
    if spread is None:
        raise ValueError("update_reference needs the measured run-to-run spread per metric (dict or CSV)")
    if isinstance(spread, (str, Path)):
        spread = read_spread(spread)
    results = read_results(results_csv)
    problems = validate(results)
    if problems:
        raise ValueError(f"{results_csv} is not a valid results table:\n- " + "\n- ".join(problems))
    present = list(dict.fromkeys(results["metric"]))
    keep = [m for m in present if m not in TIMING_METRICS] if metrics is None else list(metrics)
    absent = [m for m in keep if m not in present]
    if absent:
        raise ValueError(f"metrics {absent} are not in {results_csv}")
    lacking = [m for m in keep if m not in spread]
    if lacking:
        raise ValueError(f"no measured spread for metric(s) {lacking}")
    for m in keep:
        s = spread[m]
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or s < 0:
            raise ValueError(f"spread of {m!r} must be a finite number >= 0, got {s!r}")
    floors = {m: _floor_for(m, floor) for m in keep}
    tolerances = {m: max(k * float(spread[m]), floors[m]) for m in keep}
    if isinstance(row_spread, (str, Path)):
        row_spread = read_row_spread(row_spread)
    row_rules = [] if row_spread is None else _row_rules(row_spread, keep, floors, k, margin, interval_slack(results))
    if keep_wider is not None:
        tolerances, row_rules = _wider(read_tolerance(keep_wider), tolerances, row_rules)
    reference_dir = Path(reference_dir)
    csv_path = write_results(results[results["metric"].isin(keep)].reset_index(drop=True),
                             reference_dir / f"{preset}.csv")
    payload = {
        "format": FORMAT_VERSION,
        "preset": preset,
        "source": str(results_csv),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rule": RULE,
        "k": float(k),
        "margin": float(margin),
        "note": note,
        "spread": {m: float(spread[m]) for m in keep},
        "floor": floors,
        "metrics": tolerances,
        "rows": row_rules,
    }
    tol_path = write_json_atomic(reference_dir / f"{preset}.tolerance.json", payload)
    return csv_path, tol_path


def _rule_identity(rule: Mapping) -> tuple:
    """A row rule's identity with every missing value as None (JSON writes a missing world as "", a
    missing fpr as null; a fresh rule may hold NaN)."""
    return tuple(None if v in ("", None) or (isinstance(v, float) and math.isnan(v)) else v
                 for v in _identity(rule))


def _wider(previous: dict, metrics: dict[str, float], rows: list[dict]) -> tuple[dict[str, float], list[dict]]:
    """``metrics`` and ``rows`` with every tolerance raised to ``previous``'s where that one is wider."""
    metrics = {m: max(t, float(previous["metrics"].get(m, 0.0))) for m, t in metrics.items()}
    merged = {_rule_identity(r): dict(r) for r in rows}
    for rule in previous.get("rows", []):
        if rule["metric"] not in metrics:
            continue
        key = _rule_identity(rule)
        if key in merged:
            merged[key]["tolerance"] = max(float(merged[key]["tolerance"]), float(rule["tolerance"]))
        else:
            merged[key] = dict(rule)
    return metrics, list(merged.values())


def reference_paths(reference: str | Path, reference_dir: str | Path = REFERENCE_DIR) -> tuple[Path, Path]:
    """``(<name>.csv, <name>.tolerance.json)`` of a preset name under ``reference_dir``, or of the path of a
    reference CSV (its tolerance file beside it)."""
    path = Path(reference)
    folder, name = (path.parent, path.stem) if path.suffix == ".csv" else (Path(reference_dir), str(reference))
    return folder / f"{name}.csv", folder / f"{name}.tolerance.json"


def read_tolerance(path: str | Path) -> dict:
    """A ``<name>.tolerance.json`` (module docstring), its rules checked; a ``ValueError`` naming the problem
    and the fix when it cannot be read or is not one."""
    path = Path(path)
    fix = ("give a <name>.tolerance.json as `fpbench update-reference` writes it "
           "(like reports/reference/smoke.tolerance.json)")
    try:
        tolerance = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the tolerance file {path} ({exc.strerror or exc}): {fix}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"the tolerance file {path} is not JSON ({exc}): {fix}") from None
    if not isinstance(tolerance, dict) or not isinstance(tolerance.get("metrics"), dict):
        raise ValueError(f"the tolerance file {path} has no \"metrics\" object of metric -> tolerance: {fix}")
    if tolerance.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported format {tolerance.get('format')!r} (want {FORMAT_VERSION}): {fix}")
    try:
        tolerance_rules(tolerance)  # a bad rule is refused here, before any comparison
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the tolerance file {path}: {exc}") from None
    return tolerance


def load_reference(reference: str | Path, reference_dir: str | Path = REFERENCE_DIR) -> tuple[pd.DataFrame, dict]:
    """``(reference rows, tolerance dict)`` of a preset name or a reference CSV path (:func:`reference_paths`),
    as written by :func:`update_reference`."""
    csv_path, tol_path = reference_paths(reference, reference_dir)
    for path in (csv_path, tol_path):
        if not path.exists():
            raise FileNotFoundError(f"no reference {str(reference)!r}: {path} is missing")
    return read_results(csv_path), read_tolerance(tol_path)


def check_reference(current: pd.DataFrame, reference: str | Path,
                    reference_dir: str | Path = REFERENCE_DIR) -> RegressionReport:
    """:func:`check_regression` against a committed reference: ``reference`` is a preset name under
    ``reference_dir`` or the path of a reference CSV with its ``.tolerance.json`` beside it."""
    ref, tolerance = load_reference(reference, reference_dir)
    return check_regression(current, ref, tolerance)
