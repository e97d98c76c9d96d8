"""A differentiable perturbation layer between encoder and decoder, for training an immunised fingerprint
(Yu et al., ICLR 2022, "Responsible disclosure of generative models using scalable fingerprinting": the
fingerprint is trained through the perturbations it must survive).

Each training batch passes through one perturbation per image, drawn from ``kinds`` with a random strength
from a ``torch.Generator`` (so training stays reproducible and never touches the global RNG):

- ``blur``: Gaussian blur, kernel 5, sigma U(0.3, 2.0) (kornia.filters.gaussian_blur2d; the evaluation's
  kernel-5 blur has sigma 1.1, kernel 9 1.7);
- ``noise``: additive Gaussian noise, std U(0, 0.05);
- ``crop``: a random crop keeping U(0.8, 1.0) of each side, resized back (bilinear);
- ``colour``: brightness and contrast factors U(0.8, 1.2);
- ``jpeg``: kornia's differentiable JPEG (``kornia.enhance.jpeg_codec_differentiable``), quality U(50, 95).

Only training uses this layer: evaluation attacks with the real codecs (PIL/libjpeg) like everything else.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.enhance import jpeg_codec_differentiable
from kornia.filters import gaussian_blur2d

KINDS = ("blur", "noise", "crop", "colour", "jpeg")


def check_kinds(kinds: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown training perturbation(s) {unknown}; choose from {', '.join(KINDS)}")
    return tuple(kinds)


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def _blur(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    sigma = _uniform(len(x), 0.3, 2.0, gen).to(x.device)
    return gaussian_blur2d(x, (5, 5), torch.stack([sigma, sigma], dim=1))


def _noise(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    std = _uniform(len(x), 0.0, 0.05, gen).to(x.device).view(-1, 1, 1, 1)
    return x + std * torch.randn(x.shape, generator=gen).to(x.device)


def _crop(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    r = x.shape[-1]
    out = []
    for i, keep in enumerate(_uniform(len(x), 0.8, 1.0, gen).tolist()):
        side = max(1, round(r * keep))
        top, left = (int(torch.randint(0, r - side + 1, (1,), generator=gen)) for _ in range(2))
        patch = x[i:i + 1, :, top:top + side, left:left + side]
        out.append(F.interpolate(patch, size=x.shape[-2:], mode="bilinear", align_corners=False))
    return torch.cat(out)


def _colour(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    brightness = _uniform(len(x), 0.8, 1.2, gen).to(x.device).view(-1, 1, 1, 1)
    contrast = _uniform(len(x), 0.8, 1.2, gen).to(x.device).view(-1, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * contrast + mean * brightness


def _jpeg(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    quality = _uniform(len(x), 50.0, 95.0, gen).to(x.device)
    return jpeg_codec_differentiable(x.clamp(0, 1), quality)


OPS = {"blur": _blur, "noise": _noise, "crop": _crop, "colour": _colour, "jpeg": _jpeg}


def perturb(images: torch.Tensor, kinds: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    """``images`` (B x 3 x R x R, float) with one perturbation of ``kinds`` per image, differentiably;
    clamped to [0, 1]. An empty ``kinds`` returns the images unchanged."""
    if not kinds:
        return images
    choice = torch.randint(0, len(kinds), (len(images),), generator=gen)
    out = images
    for k, kind in enumerate(kinds):
        mask = choice == k
        if mask.any():
            idx = mask.nonzero().flatten().to(images.device)
            out = out.index_copy(0, idx, OPS[kind](images.index_select(0, idx), gen))
    return out.clamp(0, 1)
