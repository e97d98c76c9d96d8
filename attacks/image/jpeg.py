"""JPEG compression through the real libjpeg codec (PIL)."""

from __future__ import annotations

import torch

from fpbench.attacks.image._checks import check_images
from fpbench.attacks.image.codec import pil_roundtrip
from fpbench.attacks.registry import register_attack


@register_attack(
    "jpeg", kind="image", param="quality", unit="JPEG quality (libjpeg scale)",
    grid=(100, 90, 70, 50, 30, 10), neutral=None, domain=(1, 100), category="compression", version=1,
    integer=True,
)
def jpeg(images: torch.Tensor, quality: int = 75, *, seed: int = 0) -> torch.Tensor:
    """JPEG-compress each image with the real libjpeg codec via PIL and decode it again.

    ``images``: Bx3xHxW float in [0,1]; each image is rounded to uint8, saved with
    ``Image.save(format="JPEG", quality=quality)`` (PIL defaults: 4:2:0 chroma subsampling, standard
    tables, baseline) and decoded. Even quality 100 is lossy, so there is no neutral value. The output
    is a multiple of 1/255. Not differentiable; ``seed`` is unused.
    """
    check_images(images, "jpeg")
    return pil_roundtrip(images, "JPEG", {"quality": int(quality)}, "jpeg")
