"""Gaussian weight noise (the paper's model perturbation), absolute and relative to each tensor's spread.

Noise is drawn on the CPU from a ``torch.Generator`` seeded with ``seed``, tensor by tensor in layer
registration order (weight before bias), then moved to the tensor's device: the same seed gives the same
noise on any device.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from fpbench.attacks.model.layers import fresh_copy, target_tensors
from fpbench.attacks.model.threats import FID_BUDGET, NO_DATA
from fpbench.attacks.registry import ThreatCard, register_attack


def _gaussian(p: torch.Tensor, std: float, gen: torch.Generator) -> torch.Tensor:
    noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
    return (noise * std).to(device=p.device, dtype=p.dtype)


@register_attack(
    "weight_noise", kind="model", param="std", unit="weight std (absolute)",
    grid=(0.0, 0.06, 0.12, 0.18, 0.24, 0.30), neutral=0.0, domain=(0.0, math.inf), category="noise",
    description="Add N(0, std^2) to every Conv/ConvTranspose/Linear weight and bias (paper, Fig. 3).",
    threat=ThreatCard("grey-box", data=NO_DATA, compute="one draw of Gaussian weight noise (no training)", quality=FID_BUDGET),
)
def weight_noise(model: nn.Module, std: float, *, seed: int = 0) -> nn.Module:
    """Return a copy of ``model`` with i.i.d. Gaussian noise of standard deviation ``std`` added to the
    weights and biases of every conv, transposed conv and linear layer; norm layers are untouched.

    >>> g = nn.Sequential(nn.Conv2d(3, 3, 3))
    >>> weight_noise(g, 0.0) is not g
    True
    """
    out = fresh_copy(model, "weight_noise")
    if std < 0 or math.isnan(std):
        raise ValueError(f"weight_noise: std must be >= 0, got {std}")
    if std == 0:
        return out
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in target_tensors(out, "weight_noise"):
            p.add_(_gaussian(p, std, gen))
    return out


@register_attack(
    "weight_noise_relative", kind="model", param="std_fraction", unit="fraction of each tensor's std",
    grid=(0.0, 0.05, 0.1, 0.2, 0.5, 1.0), neutral=0.0, domain=(0.0, math.inf), category="noise",
    description="Add N(0, (std_fraction * std(tensor))^2) to every Conv/ConvTranspose/Linear weight and bias.",
    threat=ThreatCard("grey-box", data=NO_DATA, compute="one draw of Gaussian weight noise (no training)", quality=FID_BUDGET),
)
def weight_noise_relative(model: nn.Module, std_fraction: float, *, seed: int = 0) -> nn.Module:
    """Like ``weight_noise`` but scaled per tensor: each weight/bias tensor gets noise with standard
    deviation ``std_fraction`` times its own (population) standard deviation, so layers of different scale are hit
    equally. Constant tensors (e.g. an all-zero bias, or a single element) have spread 0 and stay unchanged.
    """
    out = fresh_copy(model, "weight_noise_relative")
    if std_fraction < 0 or math.isnan(std_fraction):
        raise ValueError(f"weight_noise_relative: std_fraction must be >= 0, got {std_fraction}")
    if std_fraction == 0:
        return out
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in target_tensors(out, "weight_noise_relative"):
            spread = float(p.detach().float().std(correction=0)) if p.numel() > 1 else 0.0
            noise = _gaussian(p, std_fraction * spread, gen)  # drawn even when spread is 0: keeps the stream aligned
            p.add_(noise)
    return out
