"""Tables from a results DataFrame: select rows, pivot metrics into columns, sort; nothing is computed.

Each :class:`Table` holds the numbers in wide form (``data``: index columns, then for every value column
``key`` and, where they exist, ``key_stderr``, ``key_ci_low`` and ``key_ci_high``); :meth:`Table.display`
turns them into strings with arrows, units and ``value ± half the 95% interval`` (``± stderr`` where a row
has no interval). :func:`write_tables` writes every non-empty table as CSV (numbers), Markdown and LaTeX
into ``RUN/tables/``. Where a run aggregated seeds, every table shows the aggregate rows
(:func:`select_seeds`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from fpbench.atomic import write_atomic, write_text_atomic
from fpbench.reports.config import DEFAULT_CONFIG, ReportConfig
from fpbench.reports.format import (
    format_cell,
    format_param,
    metric_label,
    metric_rank,
    to_latex,
    to_markdown,
)
from fpbench.reports.labels import AttackLabel, param_text
from fpbench.results import AGGREGATE_SEED, IDENTITY

# Columns that may tell apart rows sharing the chosen index; added to the index only when needed.
DISAMBIGUATORS = ("world", "seed", "attack_version", "extractor", "attack_kind", "severity")
TABLE_NAMES = ("transfer", "detection", "robustness_image", "robustness_summary", "model_attacks",
               "adaptive")
FORMATS = ("csv", "md", "tex")
SUMMARY_METRICS = ("robustness_auc",)  # one number per attack curve: in the summary, not per-level tables
ERRORS = ("stderr", "ci_low", "ci_high")  # per value column ``key``, ``key_stderr`` etc. where measured
BEST_MARK = "★"  # after the value of a cell :attr:`Table.marked` names (the best method of a column)


def select_seeds(results: pd.DataFrame) -> pd.DataFrame:
    """The rows a report shows: where a measurement (``fpbench.results.IDENTITY``) has an aggregate row
    (``seed == AGGREGATE_SEED``), that row instead of its per-seed rows; every row otherwise."""
    if "seed" not in results or results.empty:
        return results
    aggregate = results["seed"] == AGGREGATE_SEED
    if not aggregate.any():
        return results
    keys = [results[c] for c in IDENTITY if c in results]
    has_aggregate = aggregate.groupby(keys, dropna=False).transform("any").astype(bool)
    return results[aggregate | ~has_aggregate]


@dataclass(frozen=True)
class ValueColumn:
    key: str      # column name in ``Table.data`` (and the CSV)
    metric: str   # metric id, for direction, unit and number format
    header: str   # display header


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    data: pd.DataFrame
    index: tuple[str, ...]
    columns: tuple[ValueColumn, ...]
    attacks: tuple[tuple[str, AttackLabel], ...] = ()  # parameter labels (ReportConfig.attacks)
    index_labels: tuple[tuple[str, str], ...] = ()  # display text of index values, e.g. a method id's label
    marked: frozenset[tuple[int, str]] = frozenset()  # (row position, value key) of cells shown with BEST_MARK

    def display(self) -> pd.DataFrame:
        """The table as strings: parameters with their name and unit, cells as ``value ± stderr``."""
        out: dict[str, list[str]] = {}
        names = dict(self.index_labels)
        for col in self.index:
            if col == "param":
                attacks = self.data["attack"] if "attack" in self.data else [""] * len(self.data)
                labels = dict(self.attacks)
                out["param"] = [param_text(a, p, labels) for a, p in zip(attacks, self.data["param"], strict=True)]
            else:
                out[col] = [format_param(v) if isinstance(v, float) else names.get(str(v), str(v))
                            for v in self.data[col]]
        nan = [math.nan] * len(self.data)
        for vc in self.columns:
            err, low, high = (self.data[f"{vc.key}_{e}"].tolist() if f"{vc.key}_{e}" in self.data else nan
                              for e in ERRORS)
            out[vc.header] = [format_cell(v, e, vc.metric, ci=(lo, hi))
                              + (f" {BEST_MARK}" if (i, vc.key) in self.marked else "")
                              for i, (v, e, lo, hi) in enumerate(zip(self.data[vc.key].tolist(), err, low, high,
                                                                     strict=True))]
        return pd.DataFrame(out)


def _norm(value: object) -> object:
    """Dict-safe key part: NaN becomes None (NaN != NaN would split identical keys)."""
    return None if isinstance(value, float) and math.isnan(value) else value


def column_name(parts: Sequence[object]) -> str:
    """The value column :func:`pivot` names for these column-key values, e.g. ``'bit_accuracy_data'``."""
    shown = [format_param(p) if isinstance(p, float) else str(p) for p in parts if p not in (None, "")]
    return "_".join(shown)


def _column_header(metric: str, parts: Sequence[object], keys: Sequence[str]) -> str:
    extra = []
    for key, part in zip(keys, parts, strict=True):
        if key == "metric" or part in (None, ""):
            continue
        extra.append(f"@{format_param(part)}" if key == "param" else
                     f"FPR {format_param(part)}" if key == "fpr" else str(part))
    label = metric_label(metric)
    return f"{label} ({', '.join(extra)})" if extra else label


def pivot(
    rows: pd.DataFrame,
    index: Sequence[str],
    column_keys: Sequence[str] = ("metric",),
    config: ReportConfig = DEFAULT_CONFIG,
) -> tuple[pd.DataFrame, tuple[str, ...], tuple[ValueColumn, ...]]:
    """Wide form of tidy rows: one line per ``index`` value, one value (+ stderr, + 95% interval) column per
    ``column_keys`` value. Columns in ``DISAMBIGUATORS`` join the index only if rows would collide, so
    no two numbers are ever merged or averaged. Returns ``(data, index, value_columns)``."""
    index = [c for c in index if c in rows.columns]
    column_keys = ["metric", *[c for c in column_keys if c != "metric" and c in rows.columns]]
    for extra in DISAMBIGUATORS:
        if not rows.duplicated(subset=[*index, *column_keys]).any():
            break
        if extra in rows.columns and extra not in index and extra not in column_keys:
            if rows[extra].nunique(dropna=False) > 1:
                index.append(extra)
    if rows.duplicated(subset=[*index, *column_keys]).any():
        raise ValueError(f"rows are not unique on {index + column_keys}: the results table has duplicates")

    cells: dict[tuple, dict[str, float]] = {}
    raw_index: dict[tuple, tuple] = {}
    col_info: dict[str, ValueColumn] = {}
    col_sort: dict[str, tuple] = {}
    has_err: set[tuple[str, str]] = set()  # (key, error) pairs with at least one finite number
    severity: dict[tuple, int] = {}
    for rec in rows.to_dict("records"):
        ikey = tuple(_norm(rec[c]) for c in index)
        raw_index.setdefault(ikey, tuple(rec[c] for c in index))
        severity[ikey] = min(severity.get(ikey, 1 << 30), int(rec.get("severity", 0)))
        parts = tuple(_norm(rec[c]) for c in column_keys)
        key = column_name(parts)
        if key not in col_info:
            col_info[key] = ValueColumn(key, rec["metric"], _column_header(rec["metric"], parts, column_keys))
            col_sort[key] = (metric_rank(rec["metric"]), *[(p is None, str(p)) for p in parts[1:]])
        slot = cells.setdefault(ikey, {})
        slot[key] = float(rec["value"])
        for err in ERRORS:
            slot[f"{key}_{err}"] = float(rec.get(err, math.nan))
            if not math.isnan(slot[f"{key}_{err}"]):
                has_err.add((key, err))

    def index_sort(ikey: tuple) -> tuple:
        out = []
        for col, v in zip(index, ikey, strict=True):
            if col == "method":
                out.append(config.method_rank(str(v)))
            elif col == "model":
                out.append(config.model_rank(str(v)))
            elif col == "param":  # weakest first, whichever way the parameter runs (JPEG quality falls)
                out.append((v is not None, severity[ikey], float(v) if v is not None else 0.0))
            elif isinstance(v, (int, float)) or v is None:
                out.append((v is not None, float(v) if v is not None else 0.0))
            else:
                out.append(str(v))
        return tuple(out)

    keys = sorted(col_info, key=lambda k: col_sort[k])
    columns = [*index]
    for key in keys:
        columns += [key, *(f"{key}_{err}" for err in ERRORS if (key, err) in has_err)]
    records = []
    for ikey in sorted(cells, key=index_sort):
        rec = dict(zip(index, raw_index[ikey], strict=True))
        rec |= {col: cells[ikey].get(col, math.nan) for col in columns[len(index):]}
        records.append(rec)
    data = pd.DataFrame.from_records(records, columns=columns)
    return data, tuple(index), tuple(col_info[k] for k in keys)


def _table(name: str, title: str, rows: pd.DataFrame, index: Sequence[str], column_keys: Sequence[str],
           config: ReportConfig) -> Table | None:
    rows = select_seeds(rows)
    if rows.empty:
        return None
    data, idx, cols = pivot(rows, index, column_keys, config)
    return Table(name, title, data, idx, cols)


def transfer_table(results: pd.DataFrame, config: ReportConfig = DEFAULT_CONFIG) -> Table | None:
    """Paper Table 1: per method and model, the clean (attack ``none``) fingerprint metrics and FID, with
    the clean counterpart's FID beside the fingerprinted model's where counterpart rows exist."""
    rows = results[(results["attack"] == "none") & results["metric"].isin(config.transfer_metrics)]
    table = _table("transfer", "Fingerprint transfer to generated images (no attack)", rows,
                   ("method", "model"), ("metric",), config)
    if table is None or "fid" not in table.data:
        return table
    return _merge_clean_counterparts(table, config)


def _merge_clean_counterparts(table: Table, config: ReportConfig) -> Table:
    data = table.data.copy()
    is_clean = pd.Series([config.is_clean(str(g), str(m)) for g, m in zip(data["model"], data["method"],
                                                                          strict=True)], index=data.index)
    family = data["model"].map(lambda g: config.family(str(g)))
    errors = [e for e in ERRORS if f"fid_{e}" in data]
    data["fid_clean"] = math.nan
    for err in errors:
        data[f"fid_clean_{err}"] = math.nan
    matched = []
    for i in data.index[is_clean]:
        if math.isnan(data.at[i, "fid"]):
            continue
        partner = (family == family[i]) & ~is_clean
        if data.at[i, "method"] != config.clean_method:
            partner &= data["method"] == data.at[i, "method"]
        if partner.any():
            for suffix in ("", *(f"_{e}" for e in errors)):
                data.loc[partner, f"fid_clean{suffix}"] = data.at[i, f"fid{suffix}"]
            matched.append(i)
    if not matched:
        return table
    data = data.drop(index=matched).reset_index(drop=True)
    moved = ["fid_clean", *(f"fid_clean_{e}" for e in errors)]
    order = [c for c in data.columns if c not in moved]
    at = order.index("fid")
    data = data[order[:at] + moved + order[at:]]
    clean_col = ValueColumn("fid_clean", "fid", metric_label("fid") + " (clean counterpart)")
    cols: list[ValueColumn] = []
    for vc in table.columns:
        if vc.key == "fid":
            cols.append(clean_col)
            vc = ValueColumn("fid", "fid", metric_label("fid") + " (fingerprinted)")
        cols.append(vc)
    return Table(table.name, table.title, data, table.index, tuple(cols))


def detection_table(results: pd.DataFrame, config: ReportConfig = DEFAULT_CONFIG) -> Table | None:
    """Paper Table 2: detection and attribution accuracy per method and model, one column per world."""
    rows = results[(results["attack"] == "none") & results["metric"].isin(config.detection_metrics)]
    return _table("detection", "Detection and attribution without attack (closed / open world)", rows,
                  ("method", "model"), ("metric", "world", "fpr"), config)


def robustness_table(results: pd.DataFrame, config: ReportConfig = DEFAULT_CONFIG) -> Table | None:
    """Paper Fig. 3 as a table: image attack x parameter x model, every metric measured (TPRs one column
    per operating point)."""
    rows = results[(results["attack_kind"] == "image") & ~results["metric"].isin(SUMMARY_METRICS)]
    return _table("robustness_image", "Robustness to image perturbations", rows,
                  ("attack", "param", "method", "model"), ("metric", "world", "fpr"), config)


def robustness_summary_table(results: pd.DataFrame, config: ReportConfig = DEFAULT_CONFIG) -> Table | None:
    """One number per attack curve: ``robustness_auc`` per method and model, one column per attack."""
    rows = results[results["metric"] == "robustness_auc"]
    return _table("robustness_summary", "Robustness summary: normalised area under bit accuracy vs severity",
                  rows, ("method", "model"), ("metric", "attack", "world"), config)


def model_attack_table(results: pd.DataFrame, config: ReportConfig = DEFAULT_CONFIG) -> Table | None:
    """Model perturbations: bit accuracy and FID side by side per attack and parameter."""
    rows = results[(results["attack_kind"] == "model") & ~results["metric"].isin(SUMMARY_METRICS)]
    return _table("model_attacks", "Robustness to model (weight) perturbations", rows,
                  ("method", "model", "attack", "param"), ("metric", "world", "fpr"), config)


def adaptive_table(results: pd.DataFrame, config: ReportConfig = DEFAULT_CONFIG) -> Table | None:
    """Adaptive attacks and detectability tests (what an informed adversary achieves)."""
    rows = results[results["attack_kind"] == "adaptive"]
    return _table("adaptive", "Adaptive attacks and detectability", rows,
                  ("method", "model", "attack", "param"), ("metric", "world", "fpr"), config)


BUILDERS: dict[str, Callable[[pd.DataFrame, ReportConfig], Table | None]] = {
    "transfer": transfer_table,
    "detection": detection_table,
    "robustness_image": robustness_table,
    "robustness_summary": robustness_summary_table,
    "model_attacks": model_attack_table,
    "adaptive": adaptive_table,
}


def build_tables(results: pd.DataFrame, config: ReportConfig = DEFAULT_CONFIG) -> dict[str, Table]:
    """Every table that has rows, keyed by name, in :data:`TABLE_NAMES` order."""
    tables = {}
    for name in TABLE_NAMES:
        table = BUILDERS[name](results, config)
        if table is not None:
            tables[name] = replace(table, attacks=config.attacks)
    return tables


NOTE = ("↑ higher is better, ↓ lower is better; cells are value ± half the 95% interval where the row "
        "has one, else value ± stderr where a stderr was measured.")


def table_markdown(table: Table) -> str:
    return f"**{table.title}**\n\n{to_markdown(table.display())}\n{NOTE}\n"


def write_tables(results: pd.DataFrame, out_dir: str | Path, config: ReportConfig = DEFAULT_CONFIG,
                 *, tables: dict[str, Table] | None = None) -> dict[str, dict[str, Path]]:
    """Write every non-empty table as ``NAME.csv`` (numbers), ``NAME.md`` and ``NAME.tex`` into
    ``out_dir``; files of tables that are now empty are removed so a re-render leaves nothing stale.
    ``tables`` (from :func:`build_tables` on the same results) avoids building them twice.
    Returns ``{name: {"csv": path, "md": path, "tex": path}}``."""
    out_dir = Path(out_dir)
    tables = build_tables(results, config) if tables is None else tables
    written = {name: write_table(table, out_dir) for name, table in tables.items()}
    remove_tables([name for name in TABLE_NAMES if name not in tables], out_dir)
    return written


def write_table(table: Table, out_dir: str | Path) -> dict[str, Path]:
    """``NAME.csv`` (numbers), ``NAME.md`` and ``NAME.tex`` of one table; returns ``{format: path}``."""
    out_dir, name = Path(out_dir), table.name
    return {
        "csv": write_atomic(out_dir / f"{name}.csv",
                            lambda p: table.data.to_csv(p, index=False, float_format="%.10g")),
        "md": write_text_atomic(out_dir / f"{name}.md", table_markdown(table)),
        "tex": write_text_atomic(out_dir / f"{name}.tex", to_latex(
            table.display(), caption=table.title, label="tab:" + name.replace("_", "-"))),
    }


def remove_tables(names: Sequence[str], out_dir: str | Path) -> None:
    """Delete the files of tables that a re-render no longer has, so nothing stale is left."""
    for name in names:
        for fmt in FORMATS:
            (Path(out_dir) / f"{name}.{fmt}").unlink(missing_ok=True)
