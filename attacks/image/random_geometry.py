"""Seeded geometric attacks: random resized crop and translation (both keep the input size).

Each image draws its box or shift from its own generator seeded by ``(seed, i)``
(:func:`attacks.image._checks.image_generator`), so results do not depend on the batch size.
"""

from __future__ import annotations

import math

import torch

from fpbench.attacks.image._checks import check_images, image_generator, random_position
from fpbench.attacks.image.geometry import kept_pixels, resize_bilinear
from fpbench.attacks.registry import register_attack

#: range of the crop's aspect ratio, relative to the image's own (torchvision's RandomResizedCrop default)
ASPECT_RANGE = (3 / 4, 4 / 3)
#: value of the pixels a translation uncovers (black, as rotation's corners)
FILL = 0.0


def random_crop_box(g: torch.Generator, h: int, w: int, kept_area: float) -> tuple[int, int, int, int]:
    """``(top, left, box_h, box_w)`` of a crop covering about ``kept_area`` of an ``h x w`` image.

    The aspect ratio ``r`` (box w/h over image w/h) is log-uniform on :data:`ASPECT_RANGE` narrowed to
    ``[kept_area, 1/kept_area]``, the ratios at which the box fits, so ``kept_area=1`` is the whole image;
    ``box_h = round(h*sqrt(kept_area/r))``, ``box_w = round(w*sqrt(kept_area*r))``; the position is uniform.
    Draws from ``g``: ``r``, then top, then left.
    """
    lo, hi = max(ASPECT_RANGE[0], kept_area), min(ASPECT_RANGE[1], 1 / kept_area)
    u = float(torch.rand((), generator=g, dtype=torch.float64))
    r = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
    box_h, box_w = kept_pixels(h, math.sqrt(kept_area / r)), kept_pixels(w, math.sqrt(kept_area * r))
    top, left = random_position(g, h, w, box_h, box_w)
    return top, left, box_h, box_w


@register_attack(
    "random_resized_crop", kind="image", param="kept_area", unit="kept fraction of the area",
    grid=(1.0, 0.9, 0.75, 0.5, 0.35), neutral=1.0, domain=(0.01, 1.0), category="geometric", version=1,
    differentiable=True,
)
def random_resized_crop(images: torch.Tensor, kept_area: float = 0.5, *, seed: int = 0) -> torch.Tensor:
    """Crop a random box covering ``kept_area`` of each image and resize it back to the input size.

    ``images``: Bx3xHxW float in [0,1]. The box (aspect ratio in [3/4, 4/3], random position) comes from
    :func:`random_crop_box` with image ``i``'s generator; the resize is bilinear with antialiasing, as
    ``center_crop``'s. ``kept_area=1`` is the identity.
    """
    check_images(images, "random_resized_crop")
    h, w = images.shape[-2:]
    out = images.clone()
    if kept_area == 1:
        return out
    for i in range(images.shape[0]):
        top, left, bh, bw = random_crop_box(image_generator(seed, i), h, w, kept_area)
        out[i] = resize_bilinear(images[i:i + 1, :, top:top + bh, left:left + bw], (h, w))[0]
    return out.clamp_(0.0, 1.0)


def random_shift(g: torch.Generator, h: int, w: int, shift: float) -> tuple[int, int]:
    """``(dy, dx)`` in pixels: ``shift`` of the side along a uniform random direction ``t``, i.e.
    ``(round(shift*h*sin t), round(shift*w*cos t))`` (positive: down, right). Draws ``t`` from ``g``."""
    t = 2 * math.pi * float(torch.rand((), generator=g, dtype=torch.float64))
    return round(shift * h * math.sin(t)), round(shift * w * math.cos(t))


def shift_image(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``image`` (...xHxW) moved ``dy`` pixels down and ``dx`` right; uncovered pixels are :data:`FILL`."""
    h, w = image.shape[-2:]
    out = torch.full_like(image, FILL)
    if abs(dy) < h and abs(dx) < w:
        out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            image[..., max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


@register_attack(
    "translation", kind="image", param="shift", unit="fraction of the side",
    grid=(0.0, 0.05, 0.1, 0.2, 0.3), neutral=0.0, domain=(0.0, 1.0), category="geometric", version=1,
    differentiable=True,
)
def translation(images: torch.Tensor, shift: float = 0.1, *, seed: int = 0) -> torch.Tensor:
    """Move each image by ``shift`` of its side in a random direction; same size, uncovered pixels black.

    ``images``: Bx3xHxW float in [0,1]. The shift is a whole number of pixels (no resampling), from
    :func:`random_shift` with image ``i``'s generator; pixels moved out of the frame are lost and the
    uncovered band is filled with 0 (zero fill, not edge replication). ``shift=0`` is the identity.
    """
    check_images(images, "translation")
    h, w = images.shape[-2:]
    if shift == 0:
        return images.clone()
    out = torch.empty_like(images)
    for i in range(images.shape[0]):
        out[i] = shift_image(images[i], *random_shift(image_generator(seed, i), h, w, shift))
    return out
