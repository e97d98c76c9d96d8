"""Shared data and settings for the baseline tests: tiny synthetic images, fast hyperparameters."""

from __future__ import annotations

import numpy as np
import pytest

#: Fast hyperparameters for every registered baseline (the inventory test fails if one is missing).
#: Extra variants are keyed "id-variant".
FAST_PARAMS: dict[str, dict] = {
    "yu2019": {"epochs": 1, "batch_size": 8, "max_width": 16, "num_threads": 1},
    "wang2020": {"epochs": 1, "batch_size": 8, "widths": (8, 16), "num_threads": 1},
    "frank2020": {},
    "frank2020_pixels": {},
    "durall2020": {},
    "durall2020-svm": {"classifier": "svm"},
    "marra2019": {},
}


def baseline_id(case: str) -> str:
    return case.split("-")[0]


def planted_patterns(n_per_class: int, n_classes: int = 2, size: int = 16, amplitude: float = 0.06,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two or three easy classes: random smooth-ish images plus noise, each class with its own fixed
    periodic high-frequency pattern (checkerboard, vertical stripes, horizontal stripes) of ``amplitude``.
    Returns float32 Nx3xSxS in [0,1] and int labels, shuffled."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    patterns = np.stack([((yy + xx) % 2) * 2 - 1.0, (xx % 2) * 2 - 1.0, (yy % 2) * 2 - 1.0])[:n_classes]
    y = rng.permutation(np.repeat(np.arange(n_classes), n_per_class))
    brightness = rng.uniform(0.3, 0.7, size=(len(y), 3, 1, 1))
    gradient = rng.uniform(-0.1, 0.1, size=(len(y), 1, 1, 1)) * (xx / size)
    noise = rng.normal(0.0, 0.03, size=(len(y), 3, size, size))
    X = brightness + gradient + noise + amplitude * patterns[y][:, None]
    return np.clip(X, 0.0, 1.0).astype(np.float32), y



@pytest.fixture(scope="module")
def tiny_data() -> tuple[np.ndarray, np.ndarray]:
    """24 images of 8x8 in two classes (contract checks, not accuracy)."""
    return planted_patterns(12, size=8, seed=1)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise any test asking for ``baseline_case`` over every baseline (and variant) above."""
    if "baseline_case" in metafunc.fixturenames:
        metafunc.parametrize("baseline_case", list(FAST_PARAMS))


@pytest.fixture
def make_baseline(baseline_case: str):
    """Factory: ``make_baseline(**overrides)`` builds the case's estimator with its fast parameters."""
    from fpbench.baselines import BASELINES

    def make(**overrides):
        params = {**FAST_PARAMS[baseline_case], "random_state": 0, **overrides}
        return BASELINES.get(baseline_id(baseline_case))(**params)

    return make


@pytest.fixture(scope="session")
def patterns():
    """The :func:`planted_patterns` generator, for tests that need their own data."""
    return planted_patterns


@pytest.fixture(scope="session")
def fast_params() -> dict[str, dict]:
    return FAST_PARAMS
