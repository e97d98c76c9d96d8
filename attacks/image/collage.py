"""Collage: a seeded random rectangle of each image replaced by the same rectangle of a donor image.

The donor must not be another image of the same batch: then an image's result would depend on its
neighbours, so on the batch size and order. By default the donor is a procedural texture drawn from
the image's own generator (:func:`pink_texture`): content foreign to the attacked image (it carries no
fingerprint) with the 1/f amplitude spectrum of natural photographs. A caller that has real photos
passes them as ``donors=``, a pool from which each image draws its donor with its own generator; the
result then depends on the pool (the benchmark's image-attack stage passes none).
"""

from __future__ import annotations

import torch

from fpbench.attacks.image._checks import area_box, check_images, image_generator, random_position
from fpbench.attacks.image.geometry import resize_bilinear
from fpbench.attacks.registry import register_attack

#: texture = mean colour + LUMA_STD * shared 1/f field + CHROMA_STD * a 1/f field per channel
LUMA_STD, CHROMA_STD = 0.18, 0.06
#: range of the texture's mean colour, per channel
MEAN_RANGE = (0.25, 0.75)


def pink_field(g: torch.Generator, n: int, h: int, w: int) -> torch.Tensor:
    """``n x h x w`` fields of 1/f ("pink") noise, each with zero mean and unit std: white Gaussian
    noise whose Fourier amplitudes are divided by the radial frequency, the spectrum of natural images."""
    return _pink_fields(torch.randn(n, h, w, generator=g, dtype=torch.float64))


def _pink_fields(white: torch.Tensor) -> torch.Tensor:
    """:func:`pink_field` of white noise ``white`` (... x h x w float64), every leading index its own field."""
    h, w = white.shape[-2:]
    f = torch.sqrt(torch.fft.fftfreq(h, dtype=torch.float64)[:, None] ** 2
                   + torch.fft.rfftfreq(w, dtype=torch.float64)[None, :] ** 2)
    f[0, 0] = float("inf")  # no DC: the mean is set separately
    field = torch.fft.irfft2(torch.fft.rfft2(white) / f, s=(h, w))
    field = field - field.mean(dim=(-2, -1), keepdim=True)
    return field / field.std(dim=(-2, -1), keepdim=True, correction=0).clamp_min(1e-12)


def pink_texture(g: torch.Generator, h: int, w: int) -> torch.Tensor:
    """A 3 x h x w natural-ish texture in [0,1] (float64) drawn from ``g``: a random mean colour plus a
    luminance 1/f field shared by the channels and weaker per-channel 1/f colour fields, clamped."""
    lo, hi = MEAN_RANGE
    mean = lo + (hi - lo) * torch.rand(3, 1, 1, generator=g, dtype=torch.float64)
    fields = pink_field(g, 4, h, w)
    return (mean + LUMA_STD * fields[:1] + CHROMA_STD * fields[1:]).clamp_(0.0, 1.0)


@register_attack(
    "collage", kind="image", param="replaced_area", unit="replaced fraction of the area",
    grid=(0.0, 0.1, 0.25, 0.5), neutral=0.0, domain=(0.0, 1.0), category="occlusion", version=1,
    differentiable=True,
)
def collage(images: torch.Tensor, replaced_area: float = 0.25, *, seed: int = 0,
            donors: torch.Tensor | None = None) -> torch.Tensor:
    """Replace a rectangle covering ``replaced_area`` of each image by the same rectangle of a donor.

    ``images``: Bx3xHxW float in [0,1]. The rectangle is ``erasing``'s (the image's aspect ratio,
    ``round(sqrt(replaced_area)*H) x round(sqrt(replaced_area)*W)``, uniform position). Image ``i``
    draws, from its generator seeded by ``(seed, i)``, the position and then its donor: a
    :func:`pink_texture` by default, or ``donors[j]`` for a uniform ``j`` when ``donors`` (Nx3xhxw float
    in [0,1], resized bilinearly to HxW if needed) is given. Batch-size independent either way (see the
    module docstring for why the donor is never a batch neighbour). ``replaced_area=0`` is the identity.

    >>> out = collage(torch.rand(2, 3, 32, 32), 0.25, seed=0)  # a 16x16 textured patch in each
    """
    check_images(images, "collage")
    if donors is not None:
        check_images(donors, "collage donors")
        if len(donors) == 0:
            raise ValueError("collage: donors is empty; pass None for the procedural texture")
    out = images.clone()
    b, _, h, w = images.shape
    rh, rw = area_box(h, w, replaced_area)
    if rh == 0 or rw == 0 or b == 0:
        return out
    generators = [image_generator(seed, i) for i in range(b)]
    positions = [random_position(g, h, w, rh, rw) for g in generators]
    if donors is None:
        # each image's draws from its own generator, in pink_texture's order; the FFTs batched (the same
        # values as one image at a time: tests/attacks/test_collage.py)
        lo, hi = MEAN_RANGE
        means = torch.stack([lo + (hi - lo) * torch.rand(3, 1, 1, generator=g, dtype=torch.float64)
                             for g in generators])
        fields = _pink_fields(torch.stack([torch.randn(4, h, w, generator=g, dtype=torch.float64)
                                           for g in generators]))
        textures = (means + LUMA_STD * fields[:, :1] + CHROMA_STD * fields[:, 1:]).clamp_(0.0, 1.0)
    for i, (top, left) in enumerate(positions):
        if donors is None:
            donor = textures[i]
        else:
            j = int(torch.randint(0, len(donors), (1,), generator=generators[i]))
            donor = resize_bilinear(donors[j:j + 1], (h, w))[0].clamp(0.0, 1.0)
        out[i, :, top:top + rh, left:left + rw] = donor[:, top:top + rh, left:left + rw].to(out)
    return out
