"""Lossy codecs through PIL: the float <-> uint8 conversion and one encode/decode round trip shared by
the JPEG and WebP attacks."""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import torch
from PIL import Image, features

# PIL save() format -> the PIL feature that must be compiled in for it (None: always available)
_CODEC_FEATURE = {"JPEG": "jpg", "WEBP": "webp"}


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Bx3xHxW float in [0,1] -> BxHxWx3 uint8 (round half to even after scaling by 255)."""
    return (images.detach().cpu().float() * 255).round().clamp(0, 255).to(torch.uint8) \
        .permute(0, 2, 3, 1).contiguous().numpy()


def from_uint8(arrays: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """BxHxWx3 uint8 -> Bx3xHxW float in [0,1] on the device and dtype of ``like``."""
    out = torch.from_numpy(np.ascontiguousarray(arrays)).permute(0, 3, 1, 2).float() / 255
    return out.to(like.device, like.dtype)


def check_codec(fmt: str, attack: str) -> None:
    """Raise naming the missing library when this PIL build cannot write ``fmt``."""
    feature = _CODEC_FEATURE.get(fmt)
    if feature is not None and not features.check(feature):
        raise RuntimeError(f"{attack}: this Pillow build has no {fmt} support (PIL.features.check"
                           f"({feature!r}) is False); install a Pillow wheel built with lib{feature}")


def roundtrip_uint8(image: np.ndarray, fmt: str, options: Mapping[str, object]) -> np.ndarray:
    """Encode one HxWx3 uint8 image with ``Image.save(format=fmt, **options)`` and decode it to RGB."""
    buf = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buf, format=fmt, **options)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.asarray(decoded.convert("RGB"))


def pil_roundtrip(images: torch.Tensor, fmt: str, options: Mapping[str, object], attack: str) -> torch.Tensor:
    """Round ``images`` (Bx3xHxW float in [0,1]) to uint8, encode and decode each with PIL's ``fmt``
    codec at ``options``; the result is a multiple of 1/255 on the input's device and dtype."""
    check_codec(fmt, attack)
    arrays = to_uint8(images)
    out = np.stack([roundtrip_uint8(a, fmt, options) for a in arrays]) if len(arrays) else arrays
    return from_uint8(out, images)
