"""Tone and colour-wheel attacks: hue rotation and gamma correction."""

from __future__ import annotations

import math

import torch
from kornia.enhance import adjust_hue

from fpbench.attacks.image._checks import check_images
from fpbench.attacks.registry import register_attack


@register_attack(
    "hue", kind="image", param="hue_shift", unit="turns of the HSV hue wheel (0.5 = complementary colours)",
    grid=(0.0, 0.05, 0.1, 0.25, 0.5), neutral=0.0, domain=(-0.5, 0.5), category="colour", version=1,
    differentiable=True,
)
def hue(images: torch.Tensor, hue_shift: float = 0.1, *, seed: int = 0) -> torch.Tensor:
    """Rotate every pixel's HSV hue by ``hue_shift`` turns, keeping saturation and value.

    ``images``: Bx3xHxW float in [0,1]. Computed in float by ``kornia.enhance.adjust_hue`` (which takes
    radians: ``2*pi*hue_shift``), equal to ``colorsys`` per pixel; grey pixels are unchanged.
    ``hue_shift=0`` is the identity; ``+0.5`` and ``-0.5`` are the same image. Deterministic: ``seed``
    is unused.
    """
    check_images(images, "hue")
    if hue_shift == 0 or images.shape[0] == 0:
        return images.clone()
    return adjust_hue(images, 2 * math.pi * float(hue_shift)).clamp_(0.0, 1.0)


@register_attack(
    "gamma", kind="image", param="gamma", unit="exponent (1 = unchanged; < 1 brightens)",
    grid=(1.0, 0.8, 1.25, 0.67, 1.5, 0.5, 2.0), neutral=1.0, domain=(0.1, 10.0), category="colour",
    version=1, differentiable=True,
)
def gamma(images: torch.Tensor, gamma: float = 1.5, *, seed: int = 0) -> torch.Tensor:
    """Gamma correction ``x ** gamma`` per channel (skimage ``exposure.adjust_gamma`` with gain 1).

    ``images``: Bx3xHxW float in [0,1]; 0 and 1 are fixed points. The grid is ordered by ``|ln gamma|``
    like the enhancement factors of :mod:`attacks.image.colour`. ``gamma=1`` is the identity. The
    gradient at black is set to 0 rather than infinite (gamma < 1). Deterministic: ``seed`` is unused.
    """
    check_images(images, "gamma")
    if gamma == 1:
        return images.clone()
    positive = images > 0
    safe = torch.where(positive, images, torch.ones_like(images))  # keeps 0 ** (gamma - 1) out of backward
    return torch.where(positive, safe ** float(gamma), torch.zeros_like(images))
