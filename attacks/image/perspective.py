"""Seeded random perspective warp: each image's four corners moved by up to a fraction of its side."""

from __future__ import annotations

import torch
from kornia.geometry.transform import get_perspective_transform, warp_perspective

from fpbench.attacks.image._checks import check_images, image_generator
from fpbench.attacks.registry import register_attack


def image_corners(h: int, w: int) -> torch.Tensor:
    """4x2 (x, y) outer corners of an HxW image, clockwise from top-left, in pixel-centre coordinates
    (pixel ``(i, j)`` has its centre at ``x=j, y=i``, so the image spans ``[-0.5, w - 0.5]``)."""
    return torch.tensor([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]],
                        dtype=torch.float64)


def perspective_corners(h: int, w: int, distortion: float, seed: int, index: int) -> torch.Tensor:
    """4x2 corners where image ``index`` lands: each outer corner moved by an offset uniform in
    ``[-distortion, distortion]`` times the width (x) and the height (y), drawn from the image's own
    generator (:func:`attacks.image._checks.image_generator`), so independent of the batch size."""
    offsets = (2 * torch.rand(4, 2, generator=image_generator(seed, index), dtype=torch.float64) - 1)
    return image_corners(h, w) + distortion * offsets * torch.tensor([w, h], dtype=torch.float64)


def warp_to_corners(images: torch.Tensor, corners: torch.Tensor) -> torch.Tensor:
    """Warp Bx3xHxW ``images`` so that their outer corners land on ``corners`` (Bx4x2, pixel-centre
    coordinates as in :func:`image_corners`); bilinear, same size, black outside the source."""
    b, _, h, w = images.shape
    src = image_corners(h, w).expand(b, 4, 2)
    homography = get_perspective_transform(src, corners.to(torch.float64))  # float64: no solve noise
    out = warp_perspective(images, homography.to(images.device, images.dtype), dsize=(h, w),
                           mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.clamp_(0.0, 1.0)


@register_attack(
    "perspective", kind="image", param="distortion", unit="largest corner offset, fraction of the side",
    grid=(0.0, 0.05, 0.1, 0.15, 0.2), neutral=0.0, domain=(0.0, 0.24), category="geometric", version=1,
    differentiable=True,
)
def perspective(images: torch.Tensor, distortion: float = 0.1, *, seed: int = 0) -> torch.Tensor:
    """Random perspective warp: every corner of each image moves in or out by up to ``distortion`` of
    the side, and the image is warped by the homography that takes its corners there.

    ``images``: Bx3xHxW float in [0,1]. Offsets come from :func:`perspective_corners` (image ``i``'s
    generator seeded by ``(seed, i)``); sampling is bilinear (kornia ``warp_perspective``), the output
    keeps the input size, content pushed out is cut off and the area left uncovered is black (0).
    ``distortion=0`` is the identity. The domain stops below 0.25: with every offset under a quarter of
    the side the corners always form a convex quadrilateral, so the warp never folds.
    """
    check_images(images, "perspective")
    if distortion == 0 or images.shape[0] == 0:
        return images.clone()
    h, w = images.shape[-2:]
    corners = torch.stack([perspective_corners(h, w, distortion, seed, i) for i in range(images.shape[0])])
    return warp_to_corners(images, corners)
