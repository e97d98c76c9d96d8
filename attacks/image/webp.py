"""WebP compression through the real libwebp codec (PIL)."""

from __future__ import annotations

import torch

from fpbench.attacks.image._checks import check_images
from fpbench.attacks.image.codec import pil_roundtrip
from fpbench.attacks.registry import register_attack


@register_attack(
    "webp", kind="image", param="quality", unit="WebP quality (libwebp lossy scale)",
    grid=(100, 90, 70, 50, 30, 10), neutral=None, domain=(1, 100), category="compression", version=1,
    integer=True,
)
def webp(images: torch.Tensor, quality: int = 75, *, seed: int = 0) -> torch.Tensor:
    """WebP-compress each image with the real libwebp codec via PIL (lossy mode) and decode it again.

    ``images``: Bx3xHxW float in [0,1]; each image is rounded to uint8, saved with
    ``Image.save(format="WEBP", quality=quality)`` (PIL defaults: lossy, method 4, 4:2:0 YUV) and
    decoded. Lossy even at quality 100, so there is no neutral value; the output is a multiple of 1/255.
    Raises RuntimeError if Pillow was built without libwebp. Not differentiable; ``seed`` is unused.
    """
    check_images(images, "webp")
    return pil_roundtrip(images, "WEBP", {"quality": int(quality)}, "webp")
