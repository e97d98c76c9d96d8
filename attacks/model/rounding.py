"""Weight rounding to a number of decimals (the paper's model perturbation)."""

from __future__ import annotations

import torch
from torch import nn

from fpbench.attacks.model.layers import fresh_copy, target_tensors
from fpbench.attacks.model.threats import FID_BUDGET, NO_DATA
from fpbench.attacks.registry import ThreatCard, register_attack


@register_attack(
    "weight_rounding", kind="model", param="decimals", unit="decimal places kept",
    grid=(5, 4, 3, 2, 1, 0), neutral=None, domain=(0, 10), category="precision", integer=True,
    description="Round every Conv/ConvTranspose/Linear weight and bias to `decimals` decimals (paper, Sec. 4).",
    threat=ThreatCard("grey-box", data=NO_DATA, compute="one pass over the weights (no training)", quality=FID_BUDGET),
)
def weight_rounding(model: nn.Module, decimals: int, *, seed: int = 0) -> nn.Module:
    """Return a copy of ``model`` whose conv, transposed conv and linear weights and biases are rounded to
    ``decimals`` decimal places (half to even); norm layers are untouched. Deterministic: ``seed`` is unused.
    ``decimals=0`` rounds to integers, which zeroes almost every weight of a trained generator.
    There is no neutral value: even 10 decimals moves float32 weights by up to 5e-11.
    """
    out = fresh_copy(model, "weight_rounding")
    if int(decimals) != decimals or decimals < 0:
        raise ValueError(f"weight_rounding: decimals must be an integer >= 0, got {decimals}")
    with torch.no_grad():
        for _, p in target_tensors(out, "weight_rounding"):
            p.copy_(torch.round(p, decimals=int(decimals)))
    return out
