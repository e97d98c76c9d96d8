"""Erasing (cutout): blank a seeded random rectangle."""

from __future__ import annotations

import torch

from fpbench.attacks.image._checks import area_box, check_images, image_generator, random_position
from fpbench.attacks.registry import register_attack

FILL = 0.0


@register_attack(
    "erasing", kind="image", param="erased_area", unit="erased fraction of the area",
    grid=(0.0, 0.1, 0.25, 0.5), neutral=0.0, domain=(0.0, 1.0), category="occlusion", version=1,
    differentiable=True,
)
def erasing(images: torch.Tensor, erased_area: float = 0.25, *, seed: int = 0) -> torch.Tensor:
    """Set a ``round(sqrt(erased_area)*H) x round(sqrt(erased_area)*W)`` rectangle of each image to black.

    ``images``: Bx3xHxW float in [0,1]. The rectangle keeps the image's aspect ratio and covers about
    ``erased_area`` of the area; its top-left corner is uniform over the valid positions, drawn from image
    ``i``'s own generator seeded by ``(seed, i)``, so it does not depend on the batch size.
    """
    check_images(images, "erasing")
    out = images.clone()
    b, _, h, w = images.shape
    eh, ew = area_box(h, w, erased_area)
    if eh == 0 or ew == 0:
        return out
    for i in range(b):
        top, left = random_position(image_generator(seed, i), h, w, eh, ew)
        out[i, :, top:top + eh, left:left + ew] = FILL
    return out
