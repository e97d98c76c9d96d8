"""Colour and sharpness enhancement with PIL ``ImageEnhance`` semantics, batched in torch.

Each attack blends the image with a "degenerate" version: ``out = (1 - factor) * degenerate +
factor * x``, clamped to [0,1]. ``factor = 1`` is the identity; below 1 moves towards the degenerate
image, above 1 away from it. Unlike PIL the arithmetic stays in float (no uint8 rounding), and the
contrast mean is not rounded to an integer grey level.

Severity order of the default grids: by the scale-free distance ``|ln factor|`` from the neutral 1,
the reducing factor first at equal distance: 1.0, 0.8, 1.25, 0.67, 1.5, 0.5, 2.0. Severity is therefore
monotone in distance, not in direction; plot the two directions separately if that matters.
"""

from __future__ import annotations

import torch

from fpbench.attacks.image._checks import check_images
from fpbench.attacks.registry import register_attack

FACTOR_GRID = (1.0, 0.8, 1.25, 0.67, 1.5, 0.5, 2.0)
FACTOR_DOMAIN = (0.0, 10.0)
# ITU-R 601-2 luma, as PIL's convert("L") uses.
LUMA = (0.299, 0.587, 0.114)


def blend(degenerate: torch.Tensor, images: torch.Tensor, factor: float) -> torch.Tensor:
    """``(1 - factor) * degenerate + factor * images`` clamped to [0,1] (PIL ``Image.blend``); written
    this way so factor 1 returns the input and factor 0 the degenerate image exactly."""
    return ((1 - factor) * degenerate + factor * images).clamp_(0.0, 1.0)


def luma(images: torch.Tensor) -> torch.Tensor:
    """Bx3xHxW -> Bx1xHxW grey level (ITU-R 601-2)."""
    w = torch.tensor(LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images * w).sum(1, keepdim=True)


def _register_factor(attack_id: str, description: str):
    return register_attack(
        attack_id, kind="image", param="factor", unit="enhancement factor (1 = unchanged)",
        grid=FACTOR_GRID, neutral=1.0, domain=FACTOR_DOMAIN, category="colour", version=1,
        differentiable=True, description=description,
    )


@_register_factor("brightness", "scale brightness by factor (PIL ImageEnhance.Brightness)")
def brightness(images: torch.Tensor, factor: float = 1.5, *, seed: int = 0) -> torch.Tensor:
    """Blend with black: ``x * factor`` clamped. ``images``: Bx3xHxW float in [0,1]."""
    check_images(images, "brightness")
    return blend(torch.zeros_like(images), images, factor)


@_register_factor("contrast", "scale contrast around the mean grey (PIL ImageEnhance.Contrast)")
def contrast(images: torch.Tensor, factor: float = 1.5, *, seed: int = 0) -> torch.Tensor:
    """Blend with a flat image at the per-image mean luma. ``images``: Bx3xHxW float in [0,1]."""
    check_images(images, "contrast")
    mean = luma(images).mean(dim=(1, 2, 3), keepdim=True)
    return blend(mean.expand_as(images), images, factor)


@_register_factor("saturation", "scale colour saturation (PIL ImageEnhance.Color)")
def saturation(images: torch.Tensor, factor: float = 1.5, *, seed: int = 0) -> torch.Tensor:
    """Blend with the image's own grey version (luma). ``images``: Bx3xHxW float in [0,1]."""
    check_images(images, "saturation")
    return blend(luma(images).expand_as(images), images, factor)


def smooth3x3(images: torch.Tensor) -> torch.Tensor:
    """PIL's ``ImageFilter.SMOOTH`` (3x3 kernel [[1,1,1],[1,5,1],[1,1,1]] / 13); border pixels unchanged."""
    h, w = images.shape[-2:]
    out = images.clone()
    if h < 3 or w < 3:
        return out
    rows = images[..., :-2, :] + images[..., 1:-1, :] + images[..., 2:, :]  # vertical 3-sums
    box = rows[..., :-2] + rows[..., 1:-1] + rows[..., 2:]
    out[..., 1:-1, 1:-1] = (box + 4 * images[..., 1:-1, 1:-1]) / 13
    return out


@_register_factor("sharpness", "sharpen (factor > 1) or soften (< 1) (PIL ImageEnhance.Sharpness)")
def sharpness(images: torch.Tensor, factor: float = 2.0, *, seed: int = 0) -> torch.Tensor:
    """Blend with PIL's SMOOTH-filtered image. ``images``: Bx3xHxW float in [0,1]."""
    check_images(images, "sharpness")
    return blend(smooth3x3(images), images, factor)
