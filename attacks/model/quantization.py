"""Uniform symmetric fake quantisation of weights: per tensor and per output channel.

A k-bit signed grid with a restricted, symmetric range: integer levels ``-(2^(k-1)-1) .. 2^(k-1)-1``
(``2^k - 1`` values, zero exact), scale ``max|w| / (2^(k-1)-1)`` so the largest weight is representable;
``w -> round(w / scale) * scale`` (half to even), stored back in the model's float dtype so the result runs
anywhere the input ran. Applied to the weights and biases of conv, transposed conv and linear layers;
norm layers are untouched. Deterministic: ``seed`` is unused.

Why no ``int8_dynamic`` entry (PyTorch's ``torch.ao.quantization.quantize_dynamic``): it quantises only
``Linear`` (and recurrent) layers, never convolutions, so for a conv generator it would touch at most the
latent projection; its kernels run on the CPU only; and in this torch it raises a DeprecationWarning
(eager-mode quantisation moves to torchao). Its weight rounding, per-tensor symmetric qint8, is what
``weight_quantization`` with ``bits=8`` does to every layer type (PyTorch's observer uses the full
range -128..127, this module the restricted -127..127); activation quantisation is not emulated.
"""

from __future__ import annotations

import torch
from torch import nn

from fpbench.attacks.model.layers import fresh_copy, output_channel_dim, target_layers, target_tensors
from fpbench.attacks.model.threats import FID_BUDGET, NO_DATA
from fpbench.attacks.registry import ThreatCard, register_attack

BITS_DOMAIN = (2, 16)


def _check_bits(bits: int, attack: str) -> int:
    lo, hi = BITS_DOMAIN
    if isinstance(bits, bool) or int(bits) != bits or not lo <= bits <= hi:
        raise ValueError(f"{attack}: bits must be an integer in [{lo}, {hi}], got {bits}")
    return int(bits)


def fake_quantize(w: torch.Tensor, bits: int, *, channel_dim: int | None = None) -> torch.Tensor:
    """Symmetric ``bits``-bit fake quantisation of ``w``: one scale per tensor, or per slice along
    ``channel_dim``. All-zero tensors or slices stay zero.
    """
    qmax = 2 ** (bits - 1) - 1
    x = w.detach().float()
    if channel_dim is None or x.dim() < 2:
        amax = x.abs().amax()
    else:
        other = [d for d in range(x.dim()) if d != channel_dim]
        amax = x.abs().amax(dim=other, keepdim=True)
    scale = torch.where(amax > 0, amax / qmax, torch.ones_like(amax))
    q = torch.clamp(torch.round(x / scale), -qmax, qmax) * scale
    return q.to(w.dtype)


@register_attack(
    "weight_quantization", kind="model", param="bits", unit="bits per weight",
    grid=(8, 6, 4, 3, 2), neutral=None, domain=BITS_DOMAIN, category="precision", integer=True,
    description="Symmetric uniform fake quantisation, one scale per tensor, of every Conv/ConvTranspose/"
    "Linear weight and bias.",
    threat=ThreatCard("grey-box", data=NO_DATA, compute="one pass over the weights (no training)", quality=FID_BUDGET),
)
def weight_quantization(model: nn.Module, bits: int, *, seed: int = 0) -> nn.Module:
    """Return a copy of ``model`` with each conv/transposed conv/linear weight and bias tensor fake-quantised
    to ``bits`` bits with a single symmetric scale (at most ``2^bits - 1`` distinct values per tensor)."""
    out = fresh_copy(model, "weight_quantization")
    bits = _check_bits(bits, "weight_quantization")
    with torch.no_grad():
        for _, p in target_tensors(out, "weight_quantization"):
            p.copy_(fake_quantize(p, bits))
    return out


@register_attack(
    "weight_quantization_per_channel", kind="model", param="bits", unit="bits per weight",
    grid=(8, 6, 4, 3, 2), neutral=None, domain=BITS_DOMAIN, category="precision", integer=True,
    description="Symmetric uniform fake quantisation, one scale per output channel, of every Conv/"
    "ConvTranspose/Linear weight (biases: one scale per tensor).",
    threat=ThreatCard("grey-box", data=NO_DATA, compute="one pass over the weights (no training)", quality=FID_BUDGET),
)
def weight_quantization_per_channel(
    model: nn.Module, bits: int, *, seed: int = 0
) -> nn.Module:
    """Like ``weight_quantization`` but each output channel of a weight gets its own scale (dim 0 for
    conv/linear weights, dim 1 for transposed convs), so at most ``2^bits - 1`` distinct values per
    channel. A bias holds one value per channel, so it is quantised with one scale per tensor."""
    out = fresh_copy(model, "weight_quantization_per_channel")
    bits = _check_bits(bits, "weight_quantization_per_channel")
    with torch.no_grad():
        for _, layer in target_layers(out, "weight_quantization_per_channel"):
            layer.weight.copy_(fake_quantize(layer.weight, bits, channel_dim=output_channel_dim(layer)))
            if isinstance(layer.bias, torch.Tensor):
                layer.bias.copy_(fake_quantize(layer.bias, bits))
    return out
