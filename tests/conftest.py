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
