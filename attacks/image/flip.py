"""Horizontal flip (mirror left-right)."""

from __future__ import annotations

import torch

from fpbench.attacks.image._checks import check_images
from fpbench.attacks.registry import register_attack


@register_attack(
    "horizontal_flip", kind="image", param="flip", unit="0 = unchanged, 1 = mirrored left-right",
    grid=(0, 1), neutral=0, domain=(0, 1), category="geometric", version=1, differentiable=True,
    integer=True,
)
def horizontal_flip(images: torch.Tensor, flip: int = 1, *, seed: int = 0) -> torch.Tensor:
    """Mirror every image left-right when ``flip`` is 1 (PIL ``ImageOps.mirror``); 0 is the identity.

    ``images``: Bx3xHxW float in [0,1]. Deterministic: ``seed`` is unused. A two-point grid, so a
    fingerprint's robustness to it is one number (flip 1), not a curve.
    """
    check_images(images, "horizontal_flip")
    if flip not in (0, 1):
        raise ValueError(f"horizontal_flip: flip must be 0 or 1, got {flip!r}")
    return images.flip(-1) if flip else images.clone()
