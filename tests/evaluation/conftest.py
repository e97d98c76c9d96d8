"""A toy fingerprinting world whose truth is known: bits are block means of the pixel values."""

from __future__ import annotations

import pytest
import torch

N_BITS = 48  # 3 channels x 4 x 4 blocks of 4 x 4 pixels on 16 x 16 images
SIDE, BLOCK = 16, 4


def embed(fingerprint: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """n images whose block (c, i, j) has mean 0.8 where its bit is 1 and 0.2 where it is 0 (+-0.1 noise)."""
    g = torch.Generator().manual_seed(seed)
    levels = 0.2 + 0.6 * fingerprint.view(3, SIDE // BLOCK, SIDE // BLOCK)
    base = levels.repeat_interleave(BLOCK, 1).repeat_interleave(BLOCK, 2)
    return (base + 0.2 * torch.rand(n, 3, SIDE, SIDE, generator=g) - 0.1).clamp(0, 1)


def decode(images: torch.Tensor) -> torch.Tensor:
    """Block means above 1/2 -> 1: N x 48 bits."""
    means = torch.nn.functional.avg_pool2d(images, BLOCK)
    return (means > 0.5).float().flatten(1)


@pytest.fixture
def world():
    g = torch.Generator().manual_seed(1)
    fingerprints = {m: torch.randint(0, 2, (N_BITS,), generator=g).float() for m in ("data", "gan_a", "gan_b")}
    sources = {"data": embed(fingerprints["data"], 200, 2), "gan_a": embed(fingerprints["gan_a"], 150, 3)}
    clean = torch.rand(1000, 3, SIDE, SIDE, generator=g)
    return sources, fingerprints, clean
