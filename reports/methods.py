"""The comparison of fingerprinting methods, shown when a run measured more than one (issue 15, item 5).

Three tables, one row per method (the primary first, then in the order the results list them; a method's
``<id>@default`` rows, the same method at its own default strength, right after it):

- ``methods_overview`` (paper Table 1 style): bit accuracy and PSNR on the stamped photos, then per
  fingerprinted generator the transfer bit accuracy, the attribution metric and FID;
- ``methods_control``: bit accuracy on the stamped photos against bit accuracy on each generator's samples,
  beside the clean controls (clean generator, clean photos) that show chance level;
- ``methods_robustness``: the ``robustness_auc`` rows, one column per attack (and model), the best method
  of every column marked.

Baseline classifiers (``ReportConfig.is_baseline``) are not fingerprinting methods; a fingerprinting method
is any other method with a bit accuracy row. Selection and pivoting only: every number is a results row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pandas as pd

from fpbench.metrics import METRICS
from fpbench.reports.config import DEFAULT_CONFIG, ReportConfig
from fpbench.reports.format import format_number, metric_label
from fpbench.reports.tables import (
    BEST_MARK,
    ERRORS,
    Table,
    column_name,
    pivot,
    remove_tables,
    select_seeds,
    write_table,
)

METHOD_TABLE_NAMES = ("methods_overview", "methods_control", "methods_robustness")
BIT_METRICS = ("bit_accuracy", "control_bit_accuracy")
ATTRIBUTION_METRICS = ("attribution_accuracy", "pass_rate")  # the first one the generator rows carry
ATTRIBUTION_WORLDS = ("", "closed")  # the closed world: attribution among the run's own sources
OWN_DEFAULT = "own default strength"
PSNR_TOLERANCE_DB = 1.0  # a matched method's data PSNR this far from the target is named in the intro


def fingerprint_methods(results: pd.DataFrame, config: ReportConfig = DEFAULT_CONFIG) -> list[str]:
    """Fingerprinting method ids of a results table: the primary first, then in order of appearance, each
    ``<id>@default`` right after ``<id>`` (where ``<id>`` has rows). Baselines and the clean method are left out:
    rows of ``lsb@default``, ``yu2019``, ``lsb``, ``artificial_fingerprint`` (in that order) give
    ``['artificial_fingerprint', 'lsb', 'lsb@default']``."""
    bits = results.loc[results["metric"].isin(BIT_METRICS), "method"]
    found = [m for m in dict.fromkeys(bits) if not config.is_baseline(m) and m != config.clean_method]
    matched = [m for m in found if config.own_default_of(m) not in found]
    matched.sort(key=lambda m: m != config.fingerprint_method)  # stable: the rest keep their order
    out: list[str] = []
    for method in matched:
        out += [method, *(m for m in found if config.own_default_of(m) == method)]
    return out


def compared(methods: list[str], config: ReportConfig = DEFAULT_CONFIG) -> bool:
    """Whether the methods make a comparison: more than one method, own-default variants not counted."""
    return len({config.own_default_of(m) or m for m in methods}) > 1


def method_label(method: str, config: ReportConfig = DEFAULT_CONFIG) -> str:
    """Display name of a method id: ``'lsb (own default strength)'`` for ``'lsb@default'``, else the id."""
    base = config.own_default_of(method)
    return method if base is None else f"{base} ({OWN_DEFAULT})"


def source_label(model: str, config: ReportConfig = DEFAULT_CONFIG) -> str:
    """What a model id's images are, for a column header."""
    if model == config.data_model:
        return "stamped photos"
    if model == config.real_model:
        return "clean photos"
    return f"{model}, clean generator" if config.is_clean(model) else f"{model} samples"


def _generators(rows: pd.DataFrame, config: ReportConfig) -> list[str]:
    """Fingerprinted generators: models with bit accuracy rows that are neither photos nor clean."""
    models = rows.loc[rows["metric"] == "bit_accuracy", "model"].unique()
    return sorted((m for m in models if m not in (config.data_model, config.real_model) and not config.is_clean(m)),
                  key=config.model_rank)


def _clean_rows(results: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    rows = select_seeds(results)
    return rows[(rows["attack"] == "none") & rows["method"].isin(methods)]


def _method_table(name: str, title: str, rows: pd.DataFrame, columns: list[tuple[str, ...]],
                  methods: list[str], config: ReportConfig, column_keys: tuple[str, ...] = ("metric", "model"),
                  header: Mapping[tuple[str, ...], str] | None = None) -> Table | None:
    """One row per method (in ``methods`` order) of the ``rows`` whose ``column_keys`` values are listed in
    ``columns``, one value column per entry of ``columns`` in that order (those without rows left out),
    headers from ``header`` (else the metric and key values)."""
    keys, wanted = list(column_keys), set(columns)
    rows = rows[[tuple(r) in wanted for r in rows[keys].itertuples(index=False)]]
    if rows.empty:
        return None
    data, index, cols = pivot(rows, ("method",), keys, config)
    by_key = {c.key: c for c in cols}
    present = [(parts, by_key[column_name(parts)]) for parts in columns if column_name(parts) in by_key]
    cols = tuple(replace(col, header=(header or {}).get(parts, col.header)) for parts, col in present)
    rank = {m: i for i, m in enumerate(methods)}
    data = data.sort_values(list(index), key=lambda s: s.map(rank) if s.name == "method" else s, kind="stable")
    values = [k for c in cols for k in (c.key, *(f"{c.key}_{e}" for e in ERRORS)) if k in data.columns]
    labels = tuple((m, method_label(m, config)) for m in methods if method_label(m, config) != m)
    return Table(name, title, data[[*index, *values]].reset_index(drop=True), index, cols, attacks=config.attacks,
                 index_labels=labels)


def overview_table(results: pd.DataFrame, methods: list[str], config: ReportConfig = DEFAULT_CONFIG) -> Table | None:
    """Paper Table 1 across methods: data bit accuracy and PSNR, then per fingerprinted generator the
    transfer bit accuracy, attribution (``attribution_accuracy`` in the closed world, else ``pass_rate``)
    and FID. A method without a generator has empty cells there."""
    rows = _clean_rows(results, methods)
    gens = _generators(rows, config)
    on_gens = rows[rows["model"].isin(gens)]
    attribution = next((m for m in ATTRIBUTION_METRICS if m in set(on_gens["metric"])), None)
    rows = rows[(rows["metric"] != attribution) | rows["world"].isin(ATTRIBUTION_WORLDS)]
    data = config.data_model
    columns = [("bit_accuracy", data), ("psnr", data), *(("bit_accuracy", g) for g in gens),
               *((attribution, g) for g in gens if attribution), *(("fid", g) for g in gens)]
    header = {(m, g): f"{metric_label(m)} ({source_label(g, config)})" for m, g in columns}
    return _method_table("methods_overview", "Fingerprinting methods compared (no attack)", rows, columns,
                         methods, config, header=header)


def control_table(results: pd.DataFrame, methods: list[str], config: ReportConfig = DEFAULT_CONFIG) -> Table | None:
    """Negative control: bit accuracy on the stamped photos and on each generator's samples, beside the
    control bit accuracy of the clean generators and clean photos (chance, 0.5, where nothing transferred)."""
    rows = _clean_rows(results, methods)
    gens = _generators(rows, config)
    controls = sorted({m for m in rows.loc[rows["metric"] == "control_bit_accuracy", "model"]}, key=config.model_rank)
    columns = [("bit_accuracy", config.data_model), *(("bit_accuracy", g) for g in gens),
               *(("control_bit_accuracy", c) for c in controls)]
    header = {(m, g): f"{metric_label(m)} ({source_label(g, config)})" for m, g in columns}
    return _method_table("methods_control", "Does the fingerprint reach the generated images? (negative control)",
                         rows, columns, methods, config, header=header)


def robustness_table(results: pd.DataFrame, methods: list[str],
                     config: ReportConfig = DEFAULT_CONFIG) -> Table | None:
    """Methods x attacks of the ``robustness_auc`` rows (normalised area under bit accuracy against
    severity: 1 untouched at every severity, 0.5 chance), one column per attack and model, image attacks
    first. In each column the best method compared at matched PSNR carries :data:`BEST_MARK` (all of
    them on a tie); own-default rows are shown but not ranked."""
    rows = select_seeds(results)
    rows = rows[(rows["metric"] == "robustness_auc") & rows["method"].isin(methods)]
    kind = {"image": 0, "model": 1}
    columns = sorted({(a, m, w) for a, m, w in zip(rows["attack"], rows["model"], rows["world"], strict=True)},
                     key=lambda c: (kind.get(rows.loc[rows["attack"] == c[0], "attack_kind"].iloc[0], 2), c[0],
                                    c[1] != config.data_model, config.model_rank(c[1]), c[2]))
    arrow = METRICS.get("robustness_auc").arrow
    header = {(a, m, w): f"{a} {arrow} ({source_label(m, config)}{', ' + w if w else ''})" for a, m, w in columns}
    title = f"Robustness by method: normalised area under bit accuracy vs severity ({BEST_MARK} best per column)"
    table = _method_table("methods_robustness", title, rows,
                          [("robustness_auc", a, m, w) for a, m, w in columns], methods, config,
                          column_keys=("metric", "attack", "model", "world"),
                          header={("robustness_auc", *k): v for k, v in header.items()})
    if table is None:
        return None
    ranked = [i for i, m in enumerate(table.data["method"]) if config.own_default_of(str(m)) is None]
    higher = METRICS.get("robustness_auc").higher_is_better
    marked = set()
    for col in table.columns:
        values = {i: float(table.data.at[i, col.key]) for i in ranked}
        values = {i: v for i, v in values.items() if not math.isnan(v)}
        if len(values) > 1:
            best = max(values.values()) if higher else min(values.values())
            marked |= {(i, col.key) for i, v in values.items() if v == best}
    return replace(table, marked=frozenset(marked))


def build_method_tables(results: pd.DataFrame, config: ReportConfig = DEFAULT_CONFIG) -> dict[str, Table]:
    """The comparison tables that have rows, keyed by name; empty unless several methods were measured."""
    methods = fingerprint_methods(results, config)
    if not compared(methods, config):
        return {}
    built = {"methods_overview": overview_table(results, methods, config),
             "methods_control": control_table(results, methods, config),
             "methods_robustness": robustness_table(results, methods, config)}
    return {name: table for name, table in built.items() if table is not None}


def write_method_tables(tables: dict[str, Table], out_dir: str | Path) -> dict[str, dict[str, Path]]:
    """Write the comparison tables like the others (csv, md, tex); remove files of those not built."""
    written = {name: write_table(table, out_dir) for name, table in tables.items()}
    remove_tables([name for name in METHOD_TABLE_NAMES if name not in tables], out_dir)
    return written


def intro(results: pd.DataFrame, manifest: Mapping | None = None, config: ReportConfig = DEFAULT_CONFIG) -> str:
    """The section's opening paragraph: which methods, at which strength they are compared, and which
    matched methods' data PSNR rows are more than :data:`PSNR_TOLERANCE_DB` off the run's target."""
    methods = fingerprint_methods(results, config)
    matched = [m for m in methods if config.own_default_of(m) is None]
    target = (manifest or {}).get("target_psnr")
    target = float(target) if isinstance(target, (int, float)) and not isinstance(target, bool) else None
    where = "the run's target" + (f", {format_number(target, 'psnr')} dB" if target is not None else "")
    names = ", ".join(f"`{m}`" + (" (primary)" if m == config.fingerprint_method else "") for m in matched)
    text = f"{len(matched)} fingerprinting methods: {names}. They are compared at matched data PSNR ({where})"
    if len(matched) < len(methods):
        text += f" and at their own default strength (rows labelled “<id> ({OWN_DEFAULT})”)"
    else:
        text += f"; none was also measured at its own default strength (`<id>{config.own_default_suffix}` rows)"
    text += "."
    if target is not None:
        psnr = select_seeds(results)
        psnr = psnr[(psnr["attack"] == "none") & (psnr["model"] == config.data_model) & (psnr["metric"] == "psnr")]
        off = [(m, float(v)) for m, v in zip(psnr["method"], psnr["value"], strict=True)
               if m in matched and abs(float(v) - target) > PSNR_TOLERANCE_DB]
        off.sort(key=lambda mv: matched.index(mv[0]))
        if off:
            text += (f" More than {PSNR_TOLERANCE_DB:g} dB off the target in this run: "
                     + ", ".join(f"`{m}` ({format_number(v, 'psnr')} dB)" for m, v in off) + ".")
    return text + " Baseline classifiers are not fingerprinting methods; they are in the detection table."
