"""Formatting only: metric headers with arrows and units, ``value ± error`` cells, and tiny Markdown and
LaTeX (booktabs) table writers (HTML tables: ``reports.html``). Nothing here computes a result; it turns
numbers into text (the ± of a cell is half its row's 95% interval, or the stderr where there is none).
"""

from __future__ import annotations

import math
import re

import pandas as pd

from fpbench.metrics import METRICS
from fpbench.registry import UnknownIdError

MISSING = "–"

# Fixed display order of metrics in tables; metrics not listed follow in registry order.
METRIC_ORDER = (
    "bit_accuracy", "p_value", "log10_p_value", "pass_rate", "fid", "psnr", "ssim",
    "detection_accuracy", "attribution_accuracy", "auc", "tpr_at_fpr", "tpr_at_fpr_analytic",
    "false_positive_rate",
    "control_bit_accuracy", "attack_success_rate", "images_per_second", "seconds",
)


def metric_rank(metric: str) -> tuple[int, str]:
    """Sort key that puts metrics in :data:`METRIC_ORDER`, unknown ones last (alphabetically)."""
    if metric in METRIC_ORDER:
        return (METRIC_ORDER.index(metric), metric)
    ids = METRICS.ids()
    return (len(METRIC_ORDER) + (ids.index(metric) if metric in ids else len(ids)), metric)


def metric_label(metric: str, *, unit: bool = True) -> str:
    """Human header for a metric: ``'bit accuracy ↑ [fraction]'``; unknown metrics get no arrow."""
    name = metric.replace("_", " ")
    try:
        spec = METRICS.get(metric)
    except UnknownIdError:
        return name
    return f"{name} {spec.arrow} [{spec.unit}]" if unit and spec.unit else f"{name} {spec.arrow}"


def format_number(value: float, metric: str = "") -> str:
    """One number as text, with a precision chosen by the metric's unit (p-values in scientific form)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    unit = METRICS.get(metric).unit if metric in METRICS else ""
    if unit == "probability":
        return f"{value:.2e}"
    if unit == "fraction":
        return f"{value:.3f}"
    if unit in ("FID", "dB", "log10 probability", "img/s", "s"):
        return f"{value:.2f}"
    return f"{value:.4g}"


def format_cell(value: float, stderr: float = math.nan, metric: str = "", *,
                ci: tuple[float, float] = (math.nan, math.nan)) -> str:
    """``'0.955 ± 0.004'``: ± half the width of the 95% interval ``ci`` when both ends are finite, else
    ± the stderr when one exists, else just the value."""
    text = format_number(value, metric)
    if text == MISSING:
        return text
    low, high = (float(c) for c in ci)
    if math.isfinite(low) and math.isfinite(high):
        return f"{text} ± {format_number((high - low) / 2, metric)}"
    if stderr is None or math.isnan(float(stderr)):
        return text
    return f"{text} ± {format_number(stderr, metric)}"


def format_param(value: float) -> str:
    """Attack parameters: integers without a decimal point, others with up to 4 significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.4g}"


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of a frame of strings (pipes escaped, index ignored)."""
    def esc(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    header = [esc(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for values in frame.itertuples(index=False):
        lines.append("| " + " | ".join(esc(v) for v in values) + " |")
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "±": r"$\pm$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "–": "--", "★": r"$\star$",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIAL))


def latex_escape(text: object) -> str:
    """Escape LaTeX specials (``_`` becomes ``\\_``) and map ±, ↑, ↓ to math symbols."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group(0)], str(text))


def to_latex(frame: pd.DataFrame, *, caption: str = "", label: str = "") -> str:
    """A booktabs ``table`` environment of a frame of strings (needs ``\\usepackage{booktabs}``)."""
    align = "l" * len(frame.columns)
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(r"\caption{" + latex_escape(caption) + "}")
    if label:
        lines.append(r"\label{" + label + "}")
    lines += [
        r"\begin{tabular}{" + align + "}",
        r"\toprule",
        " & ".join(latex_escape(c) for c in frame.columns) + r" \\",
        r"\midrule",
    ]
    for values in frame.itertuples(index=False):
        lines.append(" & ".join(latex_escape(v) for v in values) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
