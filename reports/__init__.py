"""fpbench reports: rendering only (tables, plots, report page), run comparison and the regression check.

Every number shown comes from a run's ``results.csv``; this package sorts, pivots and formats.
``render_run`` imports matplotlib lazily so ``compare`` and ``regression`` stay light.
"""

from __future__ import annotations

from pathlib import Path

from fpbench.reports.compare import compare_runs, format_comparison
from fpbench.reports.config import ReportConfig
from fpbench.reports.regression import (
    RegressionReport,
    check_reference,
    check_regression,
    load_reference,
    update_reference,
)


def render_run(run_dir: str | Path, config: ReportConfig | None = None) -> Path:
    """Re-render tables, plots, ``report.md`` and ``report.html`` of ``run_dir`` from its results.csv
    (+ manifest.json); returns the path of ``report.html``. See :func:`reports.page.render_run`."""
    from fpbench.reports.page import render_run as _render_run

    return _render_run(run_dir) if config is None else _render_run(run_dir, config)


__all__ = [
    "RegressionReport",
    "ReportConfig",
    "check_reference",
    "check_regression",
    "compare_runs",
    "format_comparison",
    "load_reference",
    "render_run",
    "update_reference",
]
