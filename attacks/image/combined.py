"""Chains of attacks, built from the single implementations in the sibling modules."""

from __future__ import annotations

import torch

from fpbench.attacks.image._checks import check_images
from fpbench.attacks.image.colour import brightness
from fpbench.attacks.image.geometry import center_crop
from fpbench.attacks.image.jpeg import jpeg
from fpbench.attacks.registry import register_attack


def combo_params(strength: float) -> tuple[float, float, int]:
    """(crop ratio, brightness factor, JPEG quality) at ``strength`` in [0,1], linear from the neutral
    (1, 1, 100) to the Stable Signature chain (0.5, 1.5, 80); quality is rounded to an integer."""
    return 1.0 - 0.5 * strength, 1.0 + 0.5 * strength, round(100 - 20 * strength)


@register_attack(
    "combo_crop_brightness_jpeg", kind="image", param="strength", unit="fraction of full strength",
    grid=(0.0, 0.25, 0.5, 0.75, 1.0), neutral=0.0, domain=(0.0, 1.0), category="combined", version=1,
)
def combo_crop_brightness_jpeg(images: torch.Tensor, strength: float = 1.0, *, seed: int = 0) -> torch.Tensor:
    """Centre crop -> brightness -> JPEG, each at :func:`combo_params` (strength 1: crop 0.5,
    brightness 1.5, JPEG 80, as in Stable Signature). ``images``: Bx3xHxW float in [0,1].
    ``strength=0`` is the identity (JPEG skipped: even quality 100 is lossy)."""
    check_images(images, "combo_crop_brightness_jpeg")
    if strength == 0:
        return images.clone()
    ratio, factor, quality = combo_params(strength)
    out = center_crop(images, ratio, seed=seed)
    out = brightness(out, factor, seed=seed)
    return jpeg(out, quality, seed=seed)
