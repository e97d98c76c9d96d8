"""Magnitude pruning: global unstructured (L1) and per-layer structured output channels (L2).

Both use ``torch.nn.utils.prune`` and then ``prune.remove``, so the result is a plain module with the same
state-dict keys as its input (no ``weight_orig``/``weight_mask``, no hooks). Only weights are pruned by
``pruning``; ``channel_pruning`` also zeroes the bias of each removed channel. Norm layers are untouched.
Deterministic: ``seed`` is unused (ties in magnitude are broken by ``torch.topk``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.utils.prune as prune
from torch import nn

from fpbench.attacks.model.layers import fresh_copy, output_channel_dim, target_layers
from fpbench.attacks.model.threats import FID_BUDGET, NO_DATA
from fpbench.attacks.registry import ThreatCard, register_attack

#: The norm ``channel_pruning`` ranks output channels by (``n`` of ``prune.ln_structured``).
CHANNEL_NORM = 2


def _check_fraction(value: float, name: str, attack: str) -> float:
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{attack}: {name} must be a fraction in [0, 1], got {value}")
    return float(value)


@register_attack(
    "pruning", kind="model", param="sparsity", unit="fraction of conv/linear weights set to zero",
    grid=(0.0, 0.1, 0.3, 0.5, 0.7, 0.9), neutral=0.0, domain=(0.0, 1.0), category="pruning",
    description="Global unstructured L1 magnitude pruning over all Conv/ConvTranspose/Linear weights.",
    threat=ThreatCard("grey-box", data=NO_DATA, compute="one pass over the weights (no training)", quality=FID_BUDGET),
)
def pruning(model: nn.Module, sparsity: float, *, seed: int = 0) -> nn.Module:
    """Return a copy of ``model`` in which the ``sparsity`` fraction of smallest-magnitude weights, ranked
    across all conv, transposed conv and linear layers together, is set to zero (``round(sparsity * N)``
    weights for N weights in total). Biases and norm layers are kept."""
    out = fresh_copy(model, "pruning")
    sparsity = _check_fraction(sparsity, "sparsity", "pruning")
    if sparsity == 0:
        return out
    params = [(layer, "weight") for _, layer in target_layers(out, "pruning")]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=sparsity)
    for layer, name in params:
        prune.remove(layer, name)
    return out


@register_attack(
    "channel_pruning", kind="model", param="amount", unit="fraction of output channels per layer",
    grid=(0.0, 0.1, 0.3, 0.5, 0.7, 0.9), neutral=0.0, domain=(0.0, 1.0), category="pruning",
    description="Per-layer structured L2-norm pruning of output channels (weights and bias) of every "
    "Conv/ConvTranspose/Linear layer except the last (the RGB output layer).",
    threat=ThreatCard("grey-box", data=NO_DATA, compute="one pass over the weights (no training)", quality=FID_BUDGET),
)
def channel_pruning(model: nn.Module, amount: float, *, seed: int = 0) -> nn.Module:
    """Return a copy of ``model`` in which, in every conv/transposed conv/linear layer, the ``amount``
    fraction of output channels with the smallest L2 norm (``round(amount * C)`` of C channels) is zeroed:
    weights via ``prune.ln_structured`` (dim 0, or dim 1 for transposed convs) and the matching bias entries.

    The last such layer in registration order is taken to be the RGB output layer and is never pruned:
    zeroing an output colour channel would blank it in every image, which is not a pruning attack anyone
    would ship. A model with a single such layer is returned unchanged. For a grouped transposed conv,
    dim 1 indexes channels within a group, so one index is pruned in every group. Downstream norm layers
    are not adjusted, so after an eval-mode BatchNorm a pruned channel carries a constant, not zero.
    """
    out = fresh_copy(model, "channel_pruning")
    amount = _check_fraction(amount, "amount", "channel_pruning")
    if amount == 0:
        return out
    layers = target_layers(out, "channel_pruning")[:-1]
    for _, layer in layers:
        dim = output_channel_dim(layer)
        prune.ln_structured(layer, "weight", amount=amount, n=CHANNEL_NORM, dim=dim)
        other = [d for d in range(layer.weight_mask.dim()) if d != dim]
        kept = layer.weight_mask.amax(dim=other) > 0
        prune.remove(layer, "weight")
        if isinstance(layer.bias, torch.Tensor):
            kept = kept.repeat(layer.bias.numel() // kept.numel())  # grouped transposed conv: per group
            with torch.no_grad():
                layer.bias.mul_(kept.to(layer.bias.dtype))
    return out
