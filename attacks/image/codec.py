"""Lossy codecs through PIL: the float <-> uint8 conversion and the encode/decode round trips shared by
the JPEG and WebP attacks, on as many processes as the run has torch threads (fpbench.pil_codec)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from PIL import features

from fpbench.pil_codec import roundtrip_many

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


def pil_roundtrip(images: torch.Tensor, fmt: str, options: Mapping[str, object], attack: str) -> torch.Tensor:
    """Round ``images`` (Bx3xHxW float in [0,1]) to uint8, encode and decode each with PIL's ``fmt``
    codec at ``options``; the result is a multiple of 1/255 on the input's device and dtype. Large batches
    are spread over ``torch.get_num_threads()`` processes (same bytes as one at a time)."""
    check_codec(fmt, attack)
    return from_uint8(roundtrip_many(to_uint8(images), fmt, options, workers=torch.get_num_threads()), images)
