"""Shared test settings: deterministic, CPU-only, small thread count."""

import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
# One torch thread for the whole suite: tiny workloads gain nothing from more, results do not depend on
# the machine's core count, and the regression test recomputes its reference with one thread.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    yield


def pytest_collection_modifyitems(config, items):
    """``browser`` tests are opt-in: they need Playwright and a system Chromium, so they run only when the
    ``-m`` expression names them (``tox -e browser``, ``pytest -m browser``)."""
    if "browser" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="browser test: run with `tox -e browser` or `pytest -m browser`")
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(skip)
