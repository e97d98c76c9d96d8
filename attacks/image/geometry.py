"""Geometric attacks: centre crop, down-up resize, rotation (all keep the input size)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fpbench.attacks.image._checks import check_images
from fpbench.attacks.registry import register_attack


def resize_bilinear(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize with antialiasing (matches PIL's ``Image.resize(..., BILINEAR)`` on float data)."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images.clone()
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)


def kept_pixels(side: int, fraction: float) -> int:
    """Pixels kept of a side of ``side`` pixels at ``fraction`` (rounded, at least 1)."""
    return max(1, min(side, round(side * fraction)))


@register_attack(
    "center_crop", kind="image", param="kept_side", unit="kept fraction of the side",
    grid=(1.0, 0.9, 0.8, 0.7, 0.6, 0.5), neutral=1.0, domain=(0.01, 1.0), category="geometric",
    version=1, differentiable=True,
)
def center_crop(images: torch.Tensor, kept_side: float = 0.8, *, seed: int = 0) -> torch.Tensor:
    """Keep the central ``kept_side`` of each side and resize back to the input size.

    ``images``: Bx3xHxW float in [0,1]. The crop is ``round(kept_side*H) x round(kept_side*W)`` pixels starting
    at ``((H-h)//2, (W-w)//2)``; the resize back is bilinear with antialiasing (the paper's 128 -> 64 px
    crop is ``kept_side=0.5``). ``kept_side=1`` is the identity. Deterministic: ``seed`` is unused.
    """
    check_images(images, "center_crop")
    h_in, w_in = images.shape[-2:]
    h, w = kept_pixels(h_in, kept_side), kept_pixels(w_in, kept_side)
    top, left = (h_in - h) // 2, (w_in - w) // 2
    crop = images[..., top:top + h, left:left + w]
    return resize_bilinear(crop, (h_in, w_in)).clamp_(0.0, 1.0)


@register_attack(
    "resize", kind="image", param="scale", unit="fraction of the side",
    grid=(1.0, 0.75, 0.5, 0.32), neutral=1.0, domain=(0.01, 1.0), category="geometric", version=1,
    differentiable=True,
)
def resize(images: torch.Tensor, scale: float = 0.5, *, seed: int = 0) -> torch.Tensor:
    """Downscale to ``round(scale*H) x round(scale*W)`` and back up, both bilinear with antialiasing.

    ``images``: Bx3xHxW float in [0,1]. ``scale=1`` is the identity. Deterministic: ``seed`` is unused.
    """
    check_images(images, "resize")
    h_in, w_in = images.shape[-2:]
    small = resize_bilinear(images, (kept_pixels(h_in, scale), kept_pixels(w_in, scale)))
    return resize_bilinear(small, (h_in, w_in)).clamp_(0.0, 1.0)


@register_attack(
    "rotation", kind="image", param="angle", unit="degrees (counter-clockwise)",
    grid=(0.0, 5.0, 10.0, 30.0, 45.0, 90.0), neutral=0.0, domain=(-360.0, 360.0), category="geometric",
    version=1, differentiable=True,
)
def rotation(images: torch.Tensor, angle: float = 10.0, *, seed: int = 0) -> torch.Tensor:
    """Rotate counter-clockwise by ``angle`` degrees about the image centre (PIL ``Image.rotate``).

    ``images``: Bx3xHxW float in [0,1]. Same output size (corners cut), bilinear sampling, area outside
    the source filled with black (0). ``angle=0`` is the identity. Deterministic: ``seed`` is unused.
    """
    check_images(images, "rotation")
    if angle % 360 == 0 or images.shape[0] == 0:
        return images.clone()
    b, _, h, w = images.shape
    t = math.radians(angle)
    cos, sin = math.cos(t), math.sin(t)
    # affine_grid maps output coords (x right, y down, normalised to [-1,1]) to input coords. A
    # counter-clockwise rotation on screen samples the input at R(-t) of the output point; the aspect
    # factors keep the rotation rigid in pixels for non-square images.
    theta = torch.tensor([[cos, -sin * h / w, 0.0], [sin * w / h, cos, 0.0]], dtype=images.dtype)
    grid = F.affine_grid(theta.expand(b, 2, 3).to(images.device), [b, 3, h, w], align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.clamp_(0.0, 1.0)
