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


# files whose module fixtures make whole smoke runs (minutes each): run first, so that under pytest-xdist
# (--dist loadfile hands out files in collection order) the other workers share the rest, not wait for them
_LONG_FILES = ("tests/regression/test_smoke_reference.py", "tests/regression/test_two_threads.py",
               "tests/integration/test_cli_run.py")


def pytest_collection_modifyitems(config, items):
    """Long files first (see _LONG_FILES); ``browser`` tests are opt-in: they need Playwright and a system
    Chromium, so they run only when the ``-m`` expression names them (``tox -e browser``, ``pytest -m browser``)."""
    items.sort(key=lambda item: not item.nodeid.startswith(_LONG_FILES))  # stable: the rest keep their order
    if "browser" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="browser test: run with `tox -e browser` or `pytest -m browser`")
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(skip)
