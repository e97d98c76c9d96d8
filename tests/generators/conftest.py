"""Tiny settings so generator tests run in seconds on a shared CPU."""

import pytest
import torch

from fpbench.generators import GanConfig


@pytest.fixture
def tiny_config() -> GanConfig:
    return GanConfig(arch="dcgan", resolution=16, latent_dim=8, width=4, steps=4, batch_size=8,
                     checkpoint_every=2, seed=3)


@pytest.fixture
def tiny_images() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (24, 3, 16, 16), dtype=torch.uint8, generator=gen)
