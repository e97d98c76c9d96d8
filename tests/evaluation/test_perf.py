"""Wall time of the full default image-attack grid on 1000 32x32 images for one model (budget: 60 s).

One torch thread: on a shared 2-core machine two threads per process oversubscribe the cores and were
3x slower in our measurements.
"""

from __future__ import annotations

import time
import warnings

import pytest
import torch
from torch import nn

from fpbench.pipeline.image_robustness import evaluate_image_attacks, image_attack_grid

N_BITS = 48


def small_decoder() -> nn.Module:
    """Two strided convs and a linear head: the size of a toy fingerprint decoder at 32x32."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(), nn.Flatten(),
        nn.Linear(32 * 8 * 8, N_BITS),
    ).eval()


@pytest.mark.perf
def test_full_default_grid_1000_images(benchmark):
    torch.set_num_threads(1)
    net = small_decoder()
    g = torch.Generator().manual_seed(0)
    images, clean = torch.rand(1000, 3, 32, 32, generator=g), torch.rand(1000, 3, 32, 32, generator=g)
    fingerprints = {"data": torch.randint(0, 2, (N_BITS,), generator=g).float()}

    elapsed: list[float] = []

    def run():
        start = time.perf_counter()
        with warnings.catch_warnings():  # 1000 clean images are too few for FPR 0.001; expected here
            warnings.simplefilter("ignore")
            rows = evaluate_image_attacks({"data": images}, fingerprints, lambda x: (net(x) > 0).float(),
                                          clean, image_attack_grid(), progress=False)
        elapsed.append(time.perf_counter() - start)
        return rows

    rows = benchmark.pedantic(run, rounds=1, iterations=1)
    assert len({(r.attack, r.severity) for r in rows}) == 1 + sum(len(g) for _, g in image_attack_grid())
    assert elapsed[0] < 60.0, f"full grid took {elapsed[0]:.1f} s (budget 60 s)"
