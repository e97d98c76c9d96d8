"""The report page: ``RUN/report.md`` (links the PNGs) and ``RUN/report.html`` (one self-contained file,
PNGs embedded as base64), both built from ``RUN/results.csv`` and ``RUN/manifest.json`` alone.

The headline only *selects* rows (lowest, highest) and quotes their values; it computes nothing. Where the
run aggregated seeds, the page shows the aggregate rows (``reports.tables.select_seeds``).
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fpbench.atomic import write_text_atomic
from fpbench.reports import methods
from fpbench.reports.config import DEFAULT_CONFIG, ReportConfig
from fpbench.reports.format import MISSING, format_number, to_html, to_markdown
from fpbench.reports.labels import param_text
from fpbench.reports.plots import plot_methods_robustness, write_plots
from fpbench.reports.tables import NOTE, Table, build_tables, select_seeds, table_markdown, write_tables
from fpbench.results import read_results, validate
from fpbench.spectra import SPECTRA_FILE, read_spectra

PLOT_CAPTIONS = {
    "robustness_image": "Bit accuracy under image perturbations (paper Fig. 3 style).",
    "robustness_methods": "Detection / attribution accuracy of each method under image perturbations.",
    "model_attacks": "Bit accuracy against FID under model perturbations.",
    "heatmap_strongest": "Bit accuracy at the strongest severity of every attack.",
    "roc": "ROC points: TPR at fixed FPR.",
    "adaptive_success_vs_psnr": "Adaptive attacks: success rate against the PSNR the adversary pays.",
    "fingerprint_spectrum": "Mean amplitude spectrum of fingerprinted minus clean images (drawn by the run).",
    "methods_robustness": "Bit accuracy of every fingerprinting method under image perturbations: solid on the "
                          "stamped photos, dashed on generator samples, dash-dotted at a method's own default "
                          "strength.",
}
METHODS_PLOT = "methods_robustness"


def _pick(rows: pd.DataFrame, lowest: bool) -> dict | None:
    if rows.empty:
        return None
    return rows.loc[rows["value"].idxmin() if lowest else rows["value"].idxmax()].to_dict()


def headline(results: pd.DataFrame, config: ReportConfig = DEFAULT_CONFIG) -> list[str]:
    """Short summary lines, each quoting rows of the results table (selection only, no arithmetic)."""
    kinds = results.loc[results["attack_kind"] != "none"].groupby("attack_kind")["attack"].nunique()
    lines = [
        f"{_plural(len(results), 'measured number')}: {_plural(results['method'].nunique(), 'method')}, "
        f"{_plural(results['model'].nunique(), 'model')}, attacks per kind: "
        + (", ".join(f"{k} {v}" for k, v in kinds.items()) or "none") + "."
    ]
    fp = results[results["method"] == config.fingerprint_method]
    generators = pd.Series([g not in (config.data_model, config.real_model) and not config.is_clean(g, m)
                            for g, m in zip(fp["model"], fp["method"], strict=True)], index=fp.index, dtype=bool)
    clean = fp[(fp["attack"] == "none") & (fp["metric"] == "bit_accuracy") & generators]
    lo, hi = _pick(clean, True), _pick(clean, False)
    if lo is not None and hi is not None:
        lines.append(f"Bit accuracy without attack ({config.fingerprint_method}): lowest "
                     f"{format_number(lo['value'], 'bit_accuracy')} ({lo['model']}), highest "
                     f"{format_number(hi['value'], 'bit_accuracy')} ({hi['model']}).")
    for kind in ("image", "model", "adaptive"):
        worst = _pick(fp[(fp["attack_kind"] == kind) & (fp["metric"] == "bit_accuracy")], True)
        if worst is not None:
            article = "an" if kind[0] in "aeiou" else "a"
            lines.append(f"Lowest bit accuracy under {article} {kind} attack: "
                         f"{format_number(worst['value'], 'bit_accuracy')} ({worst['attack']}, "
                         f"{param_text(worst['attack'], worst['param'], config.attack_labels)}, {worst['model']}).")
    for metric in ("detection_accuracy", "attribution_accuracy"):
        rows = results[(results["attack"] == "none") & (results["metric"] == metric)]
        for world in sorted(rows["world"].unique()):
            sub = rows[rows["world"] == world]
            best, worst = _pick(sub, False), _pick(sub, True)
            where = f" ({world} world)" if world else ""
            lines.append(f"{metric.replace('_', ' ').capitalize()}{where} without attack: highest "
                         f"{format_number(best['value'], metric)} ({best['method']}, {best['model']}), lowest "
                         f"{format_number(worst['value'], metric)} ({worst['method']}, {worst['model']}).")
    return lines


def _is_nested(value: object) -> bool:
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return any(isinstance(v, (dict, list, tuple)) for v in items)


def _manifest_value(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_manifest_value(v)}" for k, v in value.items()) or MISSING
    if isinstance(value, (list, tuple)):
        return ", ".join(_manifest_value(v) for v in value) or MISSING
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def manifest_rows(manifest: dict) -> list[tuple[str, str]]:
    """``(key, text)`` for every flat manifest key, in file order (dicts of scalars as ``k=v`` lists)."""
    return [(str(k), _manifest_value(v)) for k, v in manifest.items() if not _is_nested(v)]


def manifest_blocks(manifest: dict) -> list[tuple[str, str]]:
    """``(key, indented JSON)`` for nested manifest values such as the full preset config."""
    return [(str(k), json.dumps(v, indent=2, default=str)) for k, v in manifest.items() if _is_nested(v)]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


Extras = dict[str, tuple[str, pd.DataFrame]]  # name -> (title, table of strings) beyond the main tables


@dataclass(frozen=True)
class Comparison:
    """The "Methods compared" section: opening text, tables and plot (only when several methods ran)."""

    intro: str
    tables: dict[str, Table]
    plot: Path | None = None

    def items(self) -> list[tuple[str, Table | Path]]:
        """Tables and plot in reading order: the curves just before the area table that condenses them."""
        out: list[tuple[str, Table | Path]] = [(n, t) for n, t in self.tables.items() if n != "methods_robustness"]
        out += [(METHODS_PLOT, self.plot)] if self.plot is not None else []
        return out + [(n, t) for n, t in self.tables.items() if n == "methods_robustness"]


def _comparison_markdown(comparison: Comparison) -> list[str]:
    out = ["## Methods compared", "", comparison.intro, ""]
    for name, item in comparison.items():
        if isinstance(item, Table):
            out += [table_markdown(item), f"Files: [CSV](tables/{name}.csv), [Markdown](tables/{name}.md), "
                    f"[LaTeX](tables/{name}.tex)", ""]
        else:
            out += _figure_markdown(name)
    return out


def _figure_markdown(name: str) -> list[str]:
    caption = PLOT_CAPTIONS.get(name, name)
    return [f"![{caption}](plots/{name}.png)", "", f"*{caption}*", ""]


def render_markdown(results: pd.DataFrame, tables: dict[str, Table], plots: dict[str, Path],
                    manifest: dict | None, config: ReportConfig = DEFAULT_CONFIG,
                    extras: Extras | None = None, comparison: Comparison | None = None) -> str:
    out = ["# fpbench report", ""]
    if manifest and "preset" in manifest:
        out += [f"Preset `{manifest['preset']}`.", ""]
    out += ["## Summary", "", *[f"- {line}" for line in headline(results, config)], ""]
    if comparison is not None:
        out += _comparison_markdown(comparison)
    if manifest:
        out += ["## Provenance (manifest.json)", "", "| key | value |", "|---|---|"]
        out += [f"| {k} | {v.replace('|', '/')} |" for k, v in manifest_rows(manifest)]
        out.append("")
        for key, block in manifest_blocks(manifest):
            out += [f"<details><summary>{key}</summary>", "", "```json", block, "```", "", "</details>", ""]
    out += ["## Tables", ""]
    for name, table in tables.items():
        out += [table_markdown(table),
                f"Files: [CSV](tables/{name}.csv), [Markdown](tables/{name}.md), [LaTeX](tables/{name}.tex)",
                ""]
    for name, (title, frame) in (extras or {}).items():
        out += [f"### {title}", "", to_markdown(frame), f"Files: [CSV](tables/{name}.csv), "
                f"[Markdown](tables/{name}.md)", ""]
    if plots:
        out += ["## Plots", ""]
        for name in plots:
            out += _figure_markdown(name)
    return "\n".join(out)


_CSS = """body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}
th,td{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left}th{border-bottom:2px solid #444}
img{max-width:100%;border:1px solid #eee}figcaption{font-style:italic;color:#555}"""


def _figure_html(name: str, path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    caption = html.escape(PLOT_CAPTIONS.get(name, name))
    return (f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _comparison_html(comparison: Comparison) -> list[str]:
    esc = html.escape
    intro = re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(comparison.intro))
    parts = ["<h2>Methods compared</h2>", f"<p>{intro}</p>"]
    for name, item in comparison.items():
        parts.append(f"<h3>{esc(item.title)}</h3>" + to_html(item.display()) if isinstance(item, Table)
                     else _figure_html(name, item))
    return parts


def render_html(results: pd.DataFrame, tables: dict[str, Table], plots: dict[str, Path],
                manifest: dict | None, config: ReportConfig = DEFAULT_CONFIG, extras: Extras | None = None,
                comparison: Comparison | None = None) -> str:
    esc = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>fpbench report</title><style>{_CSS}</style></head><body>", "<h1>fpbench report</h1>"]
    if manifest and "preset" in manifest:
        parts.append(f"<p>Preset <code>{esc(str(manifest['preset']))}</code>.</p>")
    parts.append("<h2>Summary</h2><ul>" + "".join(f"<li>{esc(x)}</li>" for x in headline(results, config))
                 + "</ul>")
    if comparison is not None:
        parts += _comparison_html(comparison)
    if manifest:
        parts.append("<h2>Provenance (manifest.json)</h2>"
                     + to_html(pd.DataFrame(manifest_rows(manifest), columns=["key", "value"])))
        parts += [f"<details><summary>{esc(key)}</summary><pre>{esc(block)}</pre></details>"
                  for key, block in manifest_blocks(manifest)]
    parts.append(f"<h2>Tables</h2><p>{esc(NOTE)}</p>")
    for table in tables.values():
        parts.append(f"<h3>{esc(table.title)}</h3>" + to_html(table.display()))
    for title, frame in (extras or {}).values():
        parts.append(f"<h3>{esc(title)}</h3>" + to_html(frame))
    if plots:
        parts.append("<h2>Plots</h2>")
        parts += [_figure_html(name, path) for name, path in plots.items()]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def load_manifest(run_dir: str | Path) -> dict | None:
    path = Path(run_dir) / "manifest.json"
    if not path.exists():
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(manifest, dict):
        raise ValueError(f"{path}: manifest must be a JSON object, found {type(manifest).__name__}")
    return manifest


def _extra_outputs(results: pd.DataFrame, run_dir: Path,
                   config: ReportConfig = DEFAULT_CONFIG) -> tuple[dict[str, Path], Extras]:
    """Tables and plots beyond the main ones: the adaptive best-success table and success-vs-PSNR plot,
    the model-attack breakpoints, and plots a stage drew from images."""
    from fpbench.reports import baselines, breakpoints
    from fpbench.reports.adaptive import (
        best_success,
        best_success_display,
        plot_spectrum,
        plot_success_vs_psnr,
        write_best_success,
    )

    plots, extras = {}, {}
    path = run_dir / "plots" / "adaptive_success_vs_psnr.png"
    if plot_success_vs_psnr(results, path) is not None:
        plots["adaptive_success_vs_psnr"] = path
        table = best_success(results, config.attack_labels)
        write_best_success(table, run_dir / "tables")
        extras["adaptive_best_success"] = ("Adaptive attacks: best success at a PSNR floor",
                                           best_success_display(table))
    else:
        path.unlink(missing_ok=True)
    if breakpoints.write_breakpoints(results, run_dir / "tables"):
        extras["model_attack_breakpoints"] = (
            "Model attacks: where the fingerprint fails vs where FID doubles",
            breakpoints.display(breakpoints.model_attack_breakpoints(results), config.attack_labels))
    path = run_dir / "plots" / "baseline_training.png"
    manifest = load_manifest(run_dir)
    if baselines.plot_training(manifest, path) is not None:
        plots["baseline_training"] = path
        extras["baseline_training"] = (baselines.TITLE, baselines.training_table(manifest))
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
