"""What changed between two runs, as one self-contained HTML page: the artifact a CI job attaches when the
regression gate fails (``fpbench compare RUN_A RUN_B --html OUT``, ``fpbench check RUN --html OUT``).

The rows come from :func:`reports.compare.compare_runs` or, through :func:`from_regression`, from the
regression check; this module only counts, sorts and formats them. A headline (``#headline``) gives the
verdict and a count per change; one section per change follows, always present so its anchor is stable:
``#worse``, ``#removed``, ``#improved``, ``#added``, ``#unchanged``.
"""

from __future__ import annotations

import pandas as pd

from fpbench.metrics import METRICS
from fpbench.reports.compare import CHANGES, metric_text, signed_number
from fpbench.reports.format import format_number, format_param
from fpbench.reports.html import COLLAPSE_ROWS, document, esc, table_box, toc
from fpbench.reports.regression import RegressionReport

SECTIONS = {  # change: (heading, what its rows are)
    "worse": ("Worse", "Moved in the metric's bad direction (away from its ideal value, for a metric that has "
                       "one) by more than the row's tolerance, or stopped being a finite number."),
    "removed": ("Removed", "Measured in the old run, missing from the new one."),
    "improved": ("Improved", "Moved in the metric's good direction by more than the row's tolerance."),
    "added": ("Added", "New in the new run."),
    "unchanged": ("Unchanged", "Moved by at most the row's tolerance."),
}
ROW_CLASS = {"worse": "worse", "improved": "improved"}
# regression statuses as changes: a value that is not finite where the reference's was is worse
STATUS_CHANGE = {"invalid": "worse", "worse": "worse", "missing": "removed", "improved": "improved",
                 "within": "unchanged", "new": "added"}


def from_regression(report: RegressionReport) -> pd.DataFrame:
    """The rows of a regression check shaped like :func:`compare_runs`'s: the reference is the old run."""
    rows = report.rows.rename(columns={"reference": "old", "current": "new"})
    rows["change"] = rows.pop("status").map(STATUS_CHANGE)
    return rows


def better(metric: str, higher_is_better: bool) -> str:
    """Which way is better, in an arrow and a word: ``↑ higher``, ``↓ lower`` or ``→ 0.500`` (ideal value)."""
    ideal = METRICS.get(metric).ideal if metric in METRICS else None
    if ideal is not None:
        return f"→ {format_number(ideal, metric)}"
    return "↑ higher" if higher_is_better else "↓ lower"


def _cells(rows: pd.DataFrame) -> pd.DataFrame:
    """The page's table of ``rows``: text only, the change in words first."""
    seed = ["seed"] if "seed" in rows.columns else []
    header = ["change", "method", "model", "attack", "param", "metric", "world", *seed, "better", "old", "new",
              "delta", "tolerance"]
    cells = [
        [r["change"], r["method"], r["model"], r["attack"], format_param(r["param"]),
         metric_text(r["metric"], r["fpr"]), r["world"], *[str(r[c]) for c in seed],
         better(r["metric"], r["higher_is_better"]), format_number(r["old"], r["metric"]),
         format_number(r["new"], r["metric"]), signed_number(r["delta"], r["metric"]),
         format_number(r["tolerance"], r["metric"])]
        for r in rows.to_dict("records")
    ]
    return pd.DataFrame(cells, columns=header)


def _measurements(n: int) -> str:
    return f"{n} measurement" + ("" if n == 1 else "s")


def verdict(counts: dict[str, int]) -> str:
    """``'3 measurements got worse beyond tolerance'``, ``'nothing got worse'``; missing rows are named too."""
    parts = []
    if counts["worse"]:
        parts.append(f"{_measurements(counts['worse'])} got worse beyond tolerance")
    if counts["removed"]:
        parts.append(f"{_measurements(counts['removed'])} {'is' if counts['removed'] == 1 else 'are'} "
                     "missing from the new run")
    return "; ".join(parts) if parts else "nothing got worse"


def render_comparison(rows: pd.DataFrame, *, old: str, new: str, tolerance: str) -> str:
    """The page (HTML text) of ``rows`` (:func:`compare_runs` or :func:`from_regression`); ``old`` and ``new``
    name the two runs, ``tolerance`` says which tolerance decided the changes."""
    unknown = sorted(set(rows["change"]) - set(CHANGES))
    if unknown:
        raise ValueError(f"unknown change values {unknown}; valid: {CHANGES}")
    counts = {c: int((rows["change"] == c).sum()) for c in CHANGES}
    title = f"fpbench compare: {old} → {new}"
    summary = ", ".join(f'<a href="#{c}">{counts[c]} {c}</a>' for c in CHANGES)
    body = [
        f"<h1>{esc(title)}</h1>",
        '<div id="headline"><dl class="headline">'
        f"<dt>Verdict</dt><dd><strong>{esc(verdict(counts))}</strong></dd>"
        f"<dt>Changes</dt><dd>{summary}</dd>"
        f"<dt>Old run</dt><dd><code>{esc(old)}</code></dd><dt>New run</dt><dd><code>{esc(new)}</code></dd>"
        f"<dt>Tolerance</dt><dd>{esc(tolerance)}</dd></dl></div>",
        toc([(c, f"{SECTIONS[c][0]} ({counts[c]})") for c in CHANGES]),
    ]
    for change in CHANGES:
        heading, note = SECTIONS[change]
        part = rows[rows["change"] == change]
        body.append(f'<h2 id="{change}">{heading} ({len(part)})</h2>')
        if part.empty:
            body.append('<p class="muted">none</p>')
            continue
        collapse = COLLAPSE_ROWS if change == "unchanged" else len(part)  # what changed is never hidden
        body.append(table_box(_cells(part), note=note, collapse_rows=collapse,
                              row_classes=[ROW_CLASS.get(change, "")] * len(part)))
    return document(title, body)
