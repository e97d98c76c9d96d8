"""Input validation and per-image seeding shared by the image attacks.

Every image attack takes and returns Bx3xHxW float tensors in [0,1]; :func:`check_images` enforces
that at the door with a ValueError that says what was wrong.
"""

from __future__ import annotations

import math

import torch

# Multiplier of the per-image seed: a large odd 64-bit constant (the golden-ratio increment of
# splitmix64), so (seed, index) pairs map to distinct generator seeds for any realistic batch size.
_SEED_STRIDE = 0x9E3779B97F4A7C15
_SEED_MASK = (1 << 63) - 1


def check_images(images: object, attack: str) -> torch.Tensor:
    """Return ``images`` if it is a Bx3xHxW floating tensor with finite values in [0,1], else raise."""
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{attack}: images must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(f"{attack}: images must be Bx3xHxW (4-D), got shape {tuple(images.shape)}")
    if images.shape[1] != 3:
        raise ValueError(f"{attack}: images must have 3 channels (RGB), got {images.shape[1]} "
                         f"in shape {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"{attack}: images must be a float tensor in [0,1], got dtype {images.dtype} "
                         "(convert uint8 with images.float() / 255)")
    if images.numel():
        lo, hi = (float(v) for v in torch.aminmax(images.detach()))  # one pass; NaN propagates
        if math.isnan(lo) or math.isnan(hi):
            raise ValueError(f"{attack}: images contain NaN")
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"{attack}: image values must lie in [0,1], found [{lo:.4g}, {hi:.4g}]")
    return images


def check_odd_kernel(kernel_size: int, attack: str, *, allow_zero: bool) -> int:
    """Kernel sizes are positive odd integers (0 also allowed where it means 'identity')."""
    k = int(kernel_size)
    if k != kernel_size or k < 0 or (k % 2 == 0 and not (allow_zero and k == 0)):
        allowed = "0 (identity) or a positive odd integer" if allow_zero else "a positive odd integer"
        raise ValueError(f"{attack}: kernel_size must be {allowed}, got {kernel_size!r}")
    return k


def image_generator(seed: int, index: int) -> torch.Generator:
    """CPU generator for image ``index`` of a batch attacked with ``seed``.

    Each image draws from its own stream, seeded by ``(seed * _SEED_STRIDE + index) mod 2**63``, so the
    randomness an image receives depends only on (seed, its index in the batch), never on the batch
    size. A caller that splits a dataset into chunks should pass a different seed per chunk.
    """
    g = torch.Generator(device="cpu")
    g.manual_seed((int(seed) * _SEED_STRIDE + int(index)) & _SEED_MASK)
    return g


def area_box(h: int, w: int, area: float) -> tuple[int, int]:
    """``(round(sqrt(area) * h), round(sqrt(area) * w))``: a box with the image's aspect ratio covering
    about ``area`` of an ``h x w`` image (0 on a side when it rounds away)."""
    side = math.sqrt(area)
    return round(h * side), round(w * side)


def random_position(g: torch.Generator, h: int, w: int, box_h: int, box_w: int) -> tuple[int, int]:
    """Top-left corner ``(top, left)`` of a ``box_h x box_w`` box inside an ``h x w`` image, uniform over
    the valid positions, drawn from ``g`` (top first, then left)."""
    top = int(torch.randint(0, h - box_h + 1, (1,), generator=g))
    left = int(torch.randint(0, w - box_w + 1, (1,), generator=g))
    return top, left
