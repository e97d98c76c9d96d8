"""Image-attack test fixtures: sample images and independent references (PIL) to compare against."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance

from fpbench.attacks.registry import load_all

load_all()


def random_images(n: int = 4, h: int = 24, w: int = 24, seed: int = 0) -> torch.Tensor:
    """Smooth-ish random images in [0,1] that are exact multiples of 1/255 (so uint8 round trips are exact)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, h // 4 + 1, w // 4 + 1, generator=g)
    smooth = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    x = 0.7 * smooth + 0.3 * torch.rand(n, 3, h, w, generator=g)
    return (x * 255).round() / 255


def to_pil(image: torch.Tensor) -> Image.Image:
    arr = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(arr, mode="RGB")


def from_pil(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)


def pil_jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    buf = io.BytesIO()
    to_pil(image).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return from_pil(Image.open(buf))


def pil_float_channels(image: torch.Tensor, op) -> torch.Tensor:
    """Apply a PIL operation to each channel as a 32-bit float ("F") image: no uint8 rounding."""
    chans = [np.asarray(op(Image.fromarray(c.numpy().astype(np.float32), mode="F")), dtype=np.float32)
             for c in image]
    return torch.from_numpy(np.stack(chans))


def pil_enhance(image: torch.Tensor, name: str, factor: float) -> torch.Tensor:
    enhancer = {"brightness": ImageEnhance.Brightness, "contrast": ImageEnhance.Contrast,
                "saturation": ImageEnhance.Color, "sharpness": ImageEnhance.Sharpness}[name]
    return from_pil(enhancer(to_pil(image)).enhance(factor))


@pytest.fixture
def ref():
    """This module: the reference helpers above (PIL round trips, float PIL ops)."""
    return sys.modules[__name__]


@pytest.fixture
def images() -> torch.Tensor:
    """4 RGB 24x20 images in [0,1], multiples of 1/255 (non-square to catch H/W mix-ups)."""
    return random_images(4, 24, 20)
