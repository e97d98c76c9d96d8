"""Weight averaging (model merging): interpolate a generator toward a second model of the same shape."""

from __future__ import annotations

import math

import torch
from torch import nn

from fpbench.attacks.model.layers import fresh_copy
from fpbench.attacks.model.threats import FID_BUDGET
from fpbench.attacks.registry import ThreatCard, register_attack


def _check_other(model: nn.Module, other: object, attack: str, field: str, what: str) -> dict[str, torch.Tensor]:
    if other is None:
        raise ValueError(f"{attack} needs {what} in context: {field}=<nn.Module with the same architecture>")
    if not isinstance(other, nn.Module):
        raise ValueError(f"{attack}: {field} must be an nn.Module, not {type(other).__name__}")
    mine, theirs = model.state_dict(), other.state_dict()
    if mine.keys() != theirs.keys():
        missing = sorted(set(mine) - set(theirs))[:3]
        extra = sorted(set(theirs) - set(mine))[:3]
        raise ValueError(
            f"{attack}: {field} has a different architecture (state-dict keys missing in {field}: "
            f"{missing}, extra in {field}: {extra})"
        )
    for key, value in mine.items():
        if value.shape != theirs[key].shape:
            raise ValueError(
                f"{attack}: {field} has a different architecture: {key} is {tuple(value.shape)} "
                f"here but {tuple(theirs[key].shape)} in {field}"
            )
    return theirs


def interpolate(model: nn.Module, other: object, alpha: float, *, attack: str, field: str, what: str,
                max_alpha: float = 1.0) -> nn.Module:
    """A copy of ``model`` with every floating-point state-dict entry set to ``lerp(model, other, alpha)``
    and integer buffers taken from the nearer endpoint; ``other`` (context field ``field``, described as
    ``what`` in errors) must match ``model``'s keys and shapes. The one implementation of both merges."""
    out = fresh_copy(model, attack)
    if math.isnan(alpha) or not 0.0 <= alpha <= max_alpha:
        raise ValueError(f"{attack}: alpha must be in [0, {max_alpha:g}], got {alpha}")
    theirs = _check_other(out, other, attack, field, what)
    merged = {}
    for key, mine in out.state_dict().items():
        there = theirs[key].detach().to(device=mine.device)
        if mine.is_floating_point():
            merged[key] = torch.lerp(mine.detach(), there.to(mine.dtype), float(alpha))
        else:
            merged[key] = (there if alpha > 0.5 else mine).clone()
    out.load_state_dict(merged)
    return out


@register_attack(
    "weight_averaging", kind="model", param="alpha", unit="interpolation factor toward `other_model`",
    grid=(0.0, 0.25, 0.5), neutral=0.0, domain=(0.0, 1.0), category="merging",
    description="Interpolate every floating-point state-dict entry toward a second model given as "
    "context `other_model` (norm layers included). The grid stops at the mean: beyond it the result is "
    "more the other model than the stolen one (at 1, the other model itself), not an attack on it.",
    needs=("other_model",),
    threat=ThreatCard("grey-box", data="none: a second generator of the same architecture (here another "
                      "fingerprinted one)", compute="one weight interpolation (no training)", quality=FID_BUDGET),
)
def weight_averaging(
    model: nn.Module, alpha: float, *, seed: int = 0, other_model: nn.Module | None = None
) -> nn.Module:
    """Return a copy of ``model`` with every floating-point parameter and buffer set to
    ``lerp(model, other_model, alpha)``: 0 gives ``model``, 1 gives ``other_model``'s weights, 0.5 the mean.

    Unlike the other model attacks this touches norm layers too (affine parameters and running
    statistics), since a merged model with one parent's normalisation statistics is not a merge.
    Integer buffers (``num_batches_tracked``) are taken from the nearer endpoint. ``other_model`` must have the
    same state-dict keys and shapes (ValueError otherwise); it is never modified. ``seed`` is unused.
    """
    return interpolate(model, other_model, alpha, attack="weight_averaging", field="other_model",
                       what="the second model")


@register_attack(
    "model_soup", kind="model", param="alpha", unit="interpolation factor toward `clean_model`",
    grid=(0.0, 0.25, 0.5), neutral=0.0, domain=(0.0, 0.5), category="merging",
    description="A model soup with a clean generator: interpolate every floating-point state-dict entry "
    "toward a never-fingerprinted generator of the same architecture (context `clean_model`), up to the mean.",
    needs=("clean_model",),
    threat=ThreatCard("grey-box", data="none: a clean generator of the same architecture (trained by the "
                      "adversary or downloaded)", compute="one weight interpolation (no training)",
                      quality=FID_BUDGET),
)
def model_soup(model: nn.Module, alpha: float, *, seed: int = 0, clean_model: nn.Module | None = None) -> nn.Module:
    """Return ``lerp(model, clean_model, alpha)`` over every floating-point state-dict entry (as
    :func:`weight_averaging`, norm layers included), ``alpha`` in [0, 0.5]: 0 is ``model``, 0.5 the mean
    of the two (beyond it the soup is more the clean model than the stolen one). ``clean_model``, never
    fingerprinted and of the same architecture, is never modified. ``seed`` is unused."""
    return interpolate(model, clean_model, alpha, attack="model_soup", field="clean_model",
                       what="a clean generator of the same architecture", max_alpha=0.5)
