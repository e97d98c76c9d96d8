"""The report page: ``RUN/report.md`` (links the PNGs) and ``RUN/report.html`` (one self-contained file,
PNGs embedded as base64), both built from ``RUN/results.csv`` and ``RUN/manifest.json`` alone.

Reading order: the answers on top (``reports.headline``: each number quoted from a row, linked to its
section), the run's warnings, one section per question (``reports.sections``: plot, compact table, long
table collapsed), the methods side by side when several ran, and provenance last (long lists such as
cache keys collapsed behind their count). Where the run aggregated seeds, the page shows the aggregate
rows (``reports.tables.select_seeds``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fpbench.atomic import write_text_atomic
from fpbench.reports import html as h
from fpbench.reports import methods
from fpbench.reports.config import DEFAULT_CONFIG, ReportConfig
from fpbench.reports.format import MISSING, to_markdown
from fpbench.reports.headline import Answer, headline
from fpbench.reports.plots import plot_methods_robustness, write_plots
from fpbench.reports.sections import PLOT_CAPTIONS, Extra, Plot, Section, layout
from fpbench.reports.tables import NOTE, Table, build_tables, select_seeds, table_markdown, write_tables
from fpbench.results import read_results, validate
from fpbench.spectra import SPECTRA_FILE, read_spectra

METHODS_PLOT = "methods_robustness"
LIST_ROWS = 8  # a manifest list longer than this (cache keys) is collapsed behind its count
TITLE = "fpbench report"


def scope(results: pd.DataFrame) -> str:
    """One line on what the run measured."""
    kinds = results.loc[results["attack_kind"] != "none"].groupby("attack_kind")["attack"].nunique()
    return (f"{_plural(len(results), 'measured number')}: {_plural(results['method'].nunique(), 'method')}, "
            f"{_plural(results['model'].nunique(), 'model')}, attacks per kind: "
            + (", ".join(f"{k} {v}" for k, v in kinds.items()) or "none") + ".")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _is_nested(value: object) -> bool:
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return any(isinstance(v, (dict, list, tuple)) for v in items)


def _is_long_list(value: object) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > LIST_ROWS and not _is_nested(value)


def _manifest_value(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_manifest_value(v)}" for k, v in value.items()) or MISSING
    if isinstance(value, (list, tuple)):
        return ", ".join(_manifest_value(v) for v in value) or MISSING
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def manifest_rows(manifest: dict) -> list[tuple[str, str]]:
    """``(key, text)`` for every flat manifest key, in file order (dicts of scalars as ``k=v`` lists);
    warnings and long lists are left to :func:`manifest_lists`."""
    return [(str(k), _manifest_value(v)) for k, v in manifest.items()
            if k != "warnings" and not _is_nested(v) and not _is_long_list(v)]


def manifest_lists(manifest: dict) -> list[tuple[str, list[str]]]:
    """``(key, items)`` for manifest lists too long to show inline, such as the cache keys."""
    return [(str(k), [_manifest_value(x) for x in v]) for k, v in manifest.items()
            if k != "warnings" and _is_long_list(v)]


def manifest_blocks(manifest: dict) -> list[tuple[str, str]]:
    """``(key, indented JSON)`` for nested manifest values such as the full preset config."""
    return [(str(k), json.dumps(v, indent=2, default=str)) for k, v in manifest.items()
            if k != "warnings" and _is_nested(v)]


def run_warnings(manifest: dict | None) -> list[str]:
    warnings = (manifest or {}).get("warnings")
    return [str(w) for w in warnings] if isinstance(warnings, list) else []


@dataclass(frozen=True)
class Comparison:
    """The "Methods side by side" section: opening text, tables and plot (only when several methods ran)."""

    intro: str
    tables: dict[str, Table]
    plot: Path | None = None

    def section(self) -> Section:
        """Tables and plot in reading order: the curves just before the area table that condenses them."""
        items: list[tuple[str, Table | Plot]] = [(n, t) for n, t in self.tables.items() if n != METHODS_PLOT]
        if self.plot is not None:
            items.append((METHODS_PLOT, Plot(self.plot, PLOT_CAPTIONS[METHODS_PLOT])))
        items += [(n, t) for n, t in self.tables.items() if n == METHODS_PLOT]
        return Section("methods", "Methods side by side", self.intro, tuple(items))


def _sections(tables: dict[str, Table], plots: dict[str, Path], extras: dict[str, Extra],
              comparison: Comparison | None) -> list[Section]:
    sections = layout(tables, plots, extras)
    if comparison is not None:
        at = next((i for i, s in enumerate(sections) if s.anchor == "more"), len(sections))
        sections.insert(at, comparison.section())
    return sections


# --- Markdown ---------------------------------------------------------------------------------------------

def _item_markdown(name: str, item: Table | Extra | Plot) -> list[str]:
    if isinstance(item, Plot):
        return [f"![{item.caption}](plots/{name}.png)", "", f"*{item.caption}*", ""]
    if isinstance(item, Table):
        body, title, rows = table_markdown(item), item.title, len(item.data)
        files = f"Files: [CSV](tables/{name}.csv), [Markdown](tables/{name}.md), [LaTeX](tables/{name}.tex)"
    else:
        body, title, rows = f"**{item.title}**\n\n{to_markdown(item.frame)}", item.title, len(item.frame)
        files = f"Files: [CSV](tables/{name}.csv), [Markdown](tables/{name}.md)"
    if rows > h.COLLAPSE_ROWS:
        return [f"<details><summary>{title} ({rows} rows)</summary>", "", body, files, "", "</details>", ""]
    return [body, files, ""]


def _answer_markdown(answer: Answer) -> str:
    return f"- **[{answer.question}](#{answer.section})**: {answer.text}"


def render_markdown(results: pd.DataFrame, tables: dict[str, Table], plots: dict[str, Path],
                    manifest: dict | None, config: ReportConfig = DEFAULT_CONFIG,
                    extras: dict[str, Extra] | None = None, comparison: Comparison | None = None) -> str:
    sections = _sections(tables, plots, extras or {}, comparison)
    out = [f"# {TITLE}", ""]
    if manifest and "preset" in manifest:
        out += [f"Preset `{manifest['preset']}`. {scope(results)}", ""]
    else:
        out += [scope(results), ""]
    out += ['<a id="headline"></a>', "", "## Answers", "", *map(_answer_markdown, headline(results, config)), ""]
    warnings = run_warnings(manifest)
    if warnings:
        out += [f"<details><summary>{_plural(len(warnings), 'warning')} from the run</summary>", "",
                *[f"- {w}" for w in warnings], "", "</details>", ""]
    entries = [(s.anchor, s.title) for s in sections] + ([("provenance", "Provenance")] if manifest else [])
    out += ["Contents: " + " · ".join(f"[{t}](#{a})" for a, t in entries), ""]
    for section in sections:
        out += [f'<a id="{section.anchor}"></a>', "", f"## {section.title}", "", section.intro, ""]
        for name, item in section.items:
            out += _item_markdown(name, item)
    if manifest:
        out += ['<a id="provenance"></a>', "", "## Provenance (manifest.json)", "", "| key | value |", "|---|---|"]
        out += [f"| {k} | {v.replace('|', '/')} |" for k, v in manifest_rows(manifest)]
        out.append("")
        for key, items in manifest_lists(manifest):
            out += [f"<details><summary>{key}: {len(items)}</summary>", "", *[f"- `{x}`" for x in items], "",
                    "</details>", ""]
        for key, block in manifest_blocks(manifest):
            out += [f"<details><summary>{key}</summary>", "", "```json", block, "```", "", "</details>", ""]
    return "\n".join(out)


# --- HTML -------------------------------------------------------------------------------------------------

def _item_html(name: str, item: Table | Extra | Plot) -> str:
    if isinstance(item, Plot):
        return h.figure(item.path, item.caption, anchor=f"plot-{h.slug(name)}")
    if isinstance(item, Table):
        return h.table_box(item.display(), title=item.title, anchor=f"table-{h.slug(name)}")
    return h.table_box(item.frame, title=item.title, anchor=f"table-{h.slug(name)}")


def _headline_html(answers: list[Answer]) -> str:
    rows = "".join(f'<dt><a href="#{h.esc(a.section)}">{h.esc(a.question)}</a></dt><dd>{h.esc(a.text)}</dd>'
                   for a in answers)
    return (f'<section id="headline"><h2>Answers</h2><dl class="headline">{rows}</dl>'
            '<p class="muted">Each answer quotes rows of results.csv; its heading links to the section with the '
            f"full tables and plots. {h.esc(NOTE)}</p></section>")


def render_html(results: pd.DataFrame, tables: dict[str, Table], plots: dict[str, Path],
                manifest: dict | None, config: ReportConfig = DEFAULT_CONFIG, extras: dict[str, Extra] | None = None,
                comparison: Comparison | None = None) -> str:
    sections = _sections(tables, plots, extras or {}, comparison)
    preset = f"Preset <code>{h.esc(manifest['preset'])}</code>. " if manifest and "preset" in manifest else ""
    body = [f"<h1>{TITLE}</h1>", f"<p>{preset}{h.esc(scope(results))}</p>",
            _headline_html(headline(results, config))]
    warnings = run_warnings(manifest)
    if warnings:
        body.append(f"<details id=\"warnings\"><summary>{_plural(len(warnings), 'warning')} from the run"
                    "</summary><ul>" + "".join(f"<li>{h.esc(w)}</li>" for w in warnings) + "</ul></details>")
    entries = [(s.anchor, s.title) for s in sections] + ([("provenance", "Provenance")] if manifest else [])
    body.append(h.toc(entries))
    for section in sections:
        body.append(f'<section id="{h.esc(section.anchor)}"><h2>{h.esc(section.title)}</h2>'
                    f"<p>{h.inline_code(section.intro)}</p>")
        body += [_item_html(name, item) for name, item in section.items]
        body.append("</section>")
    if manifest:
        body.append('<section id="provenance"><h2>Provenance (manifest.json)</h2>'
                    + h.table_box(pd.DataFrame(manifest_rows(manifest), columns=["key", "value"]),
                                  collapse_rows=len(manifest), wrap=True))
        body += [f"<details><summary>{h.esc(key)}: {len(items)}</summary><pre>{h.esc(chr(10).join(items))}"
                 "</pre></details>" for key, items in manifest_lists(manifest)]
        body += [f"<details><summary>{h.esc(key)}</summary><pre>{h.esc(block)}</pre></details>"
                 for key, block in manifest_blocks(manifest)]
        body.append("</section>")
    return h.document(TITLE, body)


def load_manifest(run_dir: str | Path) -> dict | None:
    path = Path(run_dir) / "manifest.json"
    if not path.exists():
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(manifest, dict):
        raise ValueError(f"{path}: manifest must be a JSON object, found {type(manifest).__name__}")
    return manifest


def _extra_outputs(results: pd.DataFrame, run_dir: Path,
                   config: ReportConfig = DEFAULT_CONFIG) -> tuple[dict[str, Path], dict[str, Extra]]:
    """Tables and plots beyond the main ones: the adaptive best-success table and success-vs-PSNR plot,
    the model-attack breakpoints, and plots a stage drew from images."""
    from fpbench.reports import baselines, breakpoints, threats
    from fpbench.reports.adaptive import (
        best_success,
        best_success_display,
        plot_spectrum,
        plot_success_vs_psnr,
        write_best_success,
    )

    plots, extras = {}, {}
    path = run_dir / "plots" / "adaptive_success_vs_psnr.png"
    if plot_success_vs_psnr(results, path, config.fingerprint_method) is not None:
        plots["adaptive_success_vs_psnr"] = path
        table = best_success(results, config.attack_labels)
        write_best_success(table, run_dir / "tables")
        extras["adaptive_best_success"] = Extra("Adaptive attacks: best success at a PSNR floor",
                                                best_success_display(table))
    else:
        path.unlink(missing_ok=True)
    if breakpoints.write_breakpoints(results, run_dir / "tables"):
        extras["model_attack_breakpoints"] = Extra(
            "Model attacks: where the fingerprint fails vs where FID doubles",
            breakpoints.display(breakpoints.model_attack_breakpoints(results), config.attack_labels))
    manifest = load_manifest(run_dir)
    cards = threats.threat_table(manifest)
    if threats.write_threat_table(cards, run_dir / "tables"):
        extras["threat_cards"] = Extra(threats.TITLE, cards)
    path = run_dir / "plots" / "baseline_training.png"
    if baselines.plot_training(manifest, path) is not None:
        plots["baseline_training"] = path
        extras["baseline_training"] = Extra(baselines.TITLE, baselines.training_table(manifest))
    else:
        path.unlink(missing_ok=True)
    path = run_dir / "plots" / "fingerprint_spectrum.png"
    if (run_dir / SPECTRA_FILE).exists() and plot_spectrum(read_spectra(run_dir / SPECTRA_FILE), path):
        plots["fingerprint_spectrum"] = path
    else:
        path.unlink(missing_ok=True)
    return plots, extras


def write_comparison(results: pd.DataFrame, run_dir: Path, manifest: dict | None = None,
                     config: ReportConfig = DEFAULT_CONFIG) -> Comparison | None:
    """Write the method comparison's tables and plot into ``run_dir``; None (and stale files removed)
    unless several fingerprinting methods were measured."""
    tables = methods.build_method_tables(results, config)
    methods.write_method_tables(tables, run_dir / "tables")
    path = run_dir / "plots" / f"{METHODS_PLOT}.png"
    plot = plot_methods_robustness(results, path, config) if tables else None
    if plot is None:
        path.unlink(missing_ok=True)
    if not tables:
        return None
    return Comparison(methods.intro(results, manifest, config), tables, plot)


def render_run(run_dir: str | Path, config: ReportConfig = DEFAULT_CONFIG) -> Path:
    """Re-render ``tables/``, ``plots/``, ``report.md`` and ``report.html`` of a run directory from its
    ``results.csv`` (and ``manifest.json`` if present). Returns the path of ``report.html``.

    Raises ``FileNotFoundError`` without results.csv and ``ValueError`` listing the problems of an
    invalid results table.
    """
    run_dir = Path(run_dir)
    csv = run_dir / "results.csv"
    if not csv.exists():
        raise FileNotFoundError(f"no results.csv in {run_dir}")
    results = read_results(csv)
    problems = validate(results)
    if problems:
        raise ValueError(f"{csv} is not a valid results table:\n- " + "\n- ".join(problems))
    results = select_seeds(results)  # aggregate rows over seeds, where the run has them
    manifest = load_manifest(run_dir)
    config = config.with_manifest(manifest)
    tables = build_tables(results, config)
    write_tables(results, run_dir / "tables", config, tables=tables)
    plots = write_plots(results, run_dir / "plots", config)
    extra_plots, extras = _extra_outputs(results, run_dir, config)
    plots |= extra_plots
    comparison = write_comparison(results, run_dir, manifest, config)
    write_text_atomic(run_dir / "report.md",
                      render_markdown(results, tables, plots, manifest, config, extras, comparison))
    return write_text_atomic(run_dir / "report.html",
                             render_html(results, tables, plots, manifest, config, extras, comparison))
