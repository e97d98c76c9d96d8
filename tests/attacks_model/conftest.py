"""Toy conv generators for the model-attack tests: tiny, CPU, one thread."""

from __future__ import annotations

import pytest
import torch
from torch import nn


def make_generator(seed: int = 0, *, latent: int = 8, width: int = 16) -> nn.Sequential:
    """A DCGAN-shaped toy generator: z (B x latent) -> B x 3 x 8 x 8 in [-1, 1].

    Linear -> ConvTranspose2d -> BatchNorm2d -> Conv2d (RGB out), with randomised biases and norm
    statistics so every tensor an attack could touch is non-trivial.
    """
    torch.manual_seed(seed)
    g = nn.Sequential(
        nn.Linear(latent, 2 * width * 4 * 4), nn.Unflatten(1, (2 * width, 4, 4)), nn.ReLU(),
        nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, 3, 3, padding=1), nn.Tanh(),
    )
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
            elif getattr(m, "bias", None) is not None:
                m.bias.normal_(0, 0.1)
    return g


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached clone of the state dict, for before/after comparisons."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


#: weight/bias tensors of the toy generator's target layers, and the norm-layer entries.
TARGET_KEYS = ("0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias")
NORM_KEYS = ("4.weight", "4.bias", "4.running_mean", "4.running_var", "4.num_batches_tracked")


class Toy:
    """The helpers above, handed to tests through the ``toy`` fixture (conftest is not importable)."""

    make = staticmethod(make_generator)
    state = staticmethod(state)
    same = staticmethod(same_state)
    target_keys = TARGET_KEYS
    norm_keys = NORM_KEYS


@pytest.fixture
def toy() -> type[Toy]:
    return Toy


@pytest.fixture
def generator() -> nn.Sequential:
    return make_generator(0)


@pytest.fixture
def other_generator() -> nn.Sequential:
    return make_generator(1)


@pytest.fixture
def gan():
    """A tiny fpbench DCGAN pair (16x16, latent 8, width 8: every layer wider than a rank-4 update), frozen
    like a released generator, with clean uint8 data and the config it 'was trained with'."""
    from fpbench.generators import GanConfig, build

    torch.manual_seed(0)
    G, D = build("dcgan", 16, 8, 8)
    G.eval().requires_grad_(False)
    data = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    config = GanConfig(resolution=16, width=8, latent_dim=8, batch_size=4, steps=40)
    return G, D, data, config
