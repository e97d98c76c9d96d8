"""Weight averaging (model merging): interpolate a generator toward a second model of the same shape."""

from __future__ import annotations

import math

import torch
from torch import nn

from fpbench.attacks.model.layers import fresh_copy
from fpbench.attacks.registry import register_attack


def _check_other(model: nn.Module, other: object) -> dict[str, torch.Tensor]:
    if other is None:
        raise ValueError(
            "weight_averaging needs the second model in context: other_model=<nn.Module with the same architecture>"
        )
    if not isinstance(other, nn.Module):
        raise ValueError(f"weight_averaging: other_model must be an nn.Module, not {type(other).__name__}")
    mine, theirs = model.state_dict(), other.state_dict()
    if mine.keys() != theirs.keys():
        missing = sorted(set(mine) - set(theirs))[:3]
        extra = sorted(set(theirs) - set(mine))[:3]
        raise ValueError(
            f"weight_averaging: other_model has a different architecture (state-dict keys missing in other_model: "
            f"{missing}, extra in other_model: {extra})"
        )
    for key, value in mine.items():
        if value.shape != theirs[key].shape:
            raise ValueError(
                f"weight_averaging: other_model has a different architecture: {key} is {tuple(value.shape)} "
                f"here but {tuple(theirs[key].shape)} in other_model"
            )
    return theirs


@register_attack(
    "weight_averaging", kind="model", param="alpha", unit="interpolation factor toward `other_model`",
    grid=(0.0, 0.25, 0.5), neutral=0.0, domain=(0.0, 1.0), category="merging",
    description="Interpolate every floating-point state-dict entry toward a second model given as "
    "context `other_model` (norm layers included). The grid stops at the mean: beyond it the result is "
    "more the other model than the stolen one (at 1, the other model itself), not an attack on it.",
    needs=("other_model",),
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
    out = fresh_copy(model, "weight_averaging")
    if math.isnan(alpha) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"weight_averaging: alpha must be in [0, 1], got {alpha}")
    theirs = _check_other(out, other_model)
    merged = {}
    for key, mine in out.state_dict().items():
        there = theirs[key].detach().to(device=mine.device)
        if mine.is_floating_point():
            merged[key] = torch.lerp(mine.detach(), there.to(mine.dtype), float(alpha))
        else:
            merged[key] = (there if alpha > 0.5 else mine).clone()
    out.load_state_dict(merged)
    return out
