"""The README's way of running smoke (`fpbench run --preset smoke`, both cores) passes the gate: another float
order than the reference's one thread, same verdict. Its own file: a whole cold run that shares nothing with
test_smoke_reference.py. Marked slow as well (10 min on a shared 2-core machine with the three-generator smoke
recipe), so it runs in `tox -e regression`, not in the README's test command; the 10 runs the tolerances
come from include five with two threads."""

from __future__ import annotations

import pytest
import torch

from fpbench.cache import ArtifactCache
from fpbench.pipeline.presets import get_preset
from fpbench.pipeline.runner import run
from fpbench.reports.regression import check_reference

pytestmark = [pytest.mark.regression, pytest.mark.slow]


def test_an_untouched_run_with_two_threads_passes(tmp_path):
    """The README's way (`fpbench run --preset smoke`, both cores): another float order, same verdict."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        results = run(get_preset("smoke"), tmp_path / "out", cache=ArtifactCache(tmp_path / "cache"),
                      progress=False).results
    finally:
        torch.set_num_threads(previous)
    report = check_reference(results, "smoke")
    assert report.passed, report.summary()
