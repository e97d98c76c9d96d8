"""JPEG compression through the real libjpeg codec (PIL)."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from fpbench.attacks.image._checks import check_images
from fpbench.attacks.registry import register_attack


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Bx3xHxW float in [0,1] -> BxHxWx3 uint8 (round half to even after scaling by 255)."""
    return (images.detach().cpu().float() * 255).round().clamp(0, 255).to(torch.uint8) \
        .permute(0, 2, 3, 1).contiguous().numpy()


def from_uint8(arrays: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """BxHxWx3 uint8 -> Bx3xHxW float in [0,1] on the device and dtype of ``like``."""
    out = torch.from_numpy(np.ascontiguousarray(arrays)).permute(0, 3, 1, 2).float() / 255
    return out.to(like.device, like.dtype)


def jpeg_roundtrip_uint8(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode one HxWx3 uint8 image as JPEG at ``quality`` with PIL's defaults and decode it."""
    buf = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.asarray(decoded.convert("RGB"))


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
    arrays = to_uint8(images)
    out = np.stack([jpeg_roundtrip_uint8(a, quality) for a in arrays]) if len(arrays) else arrays
    return from_uint8(out, images)
