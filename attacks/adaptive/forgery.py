"""Forgery (spoofing): make innocent images look as if a victim model made them.

The adversary observes ``n_samples`` outputs of the victim (``pool``) and

- ``forgery_surrogate``: decodes them with its surrogate decoder, takes the per-bit majority as its
  estimate of the victim's fingerprint, and stamps that into the innocent images with its surrogate
  encoder. The surrogate codec is another steganographic code than the victim's, so this works only
  as far as the two codes happen to agree;
- ``forgery_copy``: adds the victim's mean noise residual (the ``averaging`` estimate) to the images.

Success = the victim's true decoder attributes a forged image to the victim (false attribution).
"""

from __future__ import annotations

import torch
from torch import nn

from fpbench.attacks.adaptive._context import as_float, check_adaptive_images, check_resolution, require
from fpbench.attacks.adaptive.averaging import estimate_pattern
from fpbench.attacks.registry import ThreatCard, register_attack

_GRID = (8, 32, 128, 512)


@register_attack(
    "forgery_surrogate", kind="adaptive", param="n_samples", unit="victim outputs observed by the adversary",
    grid=_GRID, neutral=None, domain=(1, 10_000_000), category="forgery", version=1, integer=True,
    description="Estimate the victim's bits with the surrogate decoder, stamp them with the surrogate encoder.",
    needs=("pool", "surrogate_encoder", "surrogate_decoder"),
    threat=ThreatCard(
        knowledge="grey-box",
        data="n_samples outputs of the victim, and its surrogate codec trained with the victim's method on the "
             "holdout photos (disjoint from the victim's data)",
        compute="one surrogate-decoder pass per observed output, one surrogate-encoder pass per forged image",
        quality="PSNR >= 30 dB (and 25 dB) vs the innocent image (report table)"),
)
def forgery_surrogate(images: torch.Tensor, n_samples: int = 128, *, seed: int = 0, pool: torch.Tensor | None = None,
                      surrogate_encoder: nn.Module | None = None,
                      surrogate_decoder: nn.Module | None = None) -> torch.Tensor:
    """``images``: innocent Bx3xRxR float in [0,1] -> forged images, same shape."""
    check_adaptive_images(images, "forgery_surrogate")
    pool = require(pool, "pool", "forgery_surrogate", torch.Tensor)
    enc = require(surrogate_encoder, "surrogate_encoder", "forgery_surrogate", nn.Module)
    dec = require(surrogate_decoder, "surrogate_decoder", "forgery_surrogate", nn.Module)
    if int(n_samples) != n_samples or not 1 <= n_samples <= len(pool):
        raise ValueError(f"forgery_surrogate: n_samples must be in 1..{len(pool)} (the pool), got {n_samples!r}")
    check_resolution(images, enc, "surrogate_encoder", "forgery_surrogate")
    idx = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[: int(n_samples)]
    device = next(dec.parameters()).device
    with torch.no_grad():
        observed = as_float(pool[idx])
        votes = torch.cat([(dec(observed[i:i + 256].to(device)) > 0).float().cpu()
                           for i in range(0, len(observed), 256)]).mean(0)
        estimate = (votes > 0.5).float().to(device)
        out = [enc(images[i:i + 256].to(device), estimate.expand(len(images[i:i + 256]), -1)).to(images.device)
               for i in range(0, len(images), 256)]
    return torch.cat(out).clamp(0, 1) if out else images.clone()


@register_attack(
    "forgery_copy", kind="adaptive", param="n_samples", unit="victim outputs observed by the adversary",
    grid=_GRID, neutral=None, domain=(1, 10_000_000), category="forgery", version=1, integer=True,
    description="Add the victim's mean noise residual (averaging estimate) to innocent images.",
    needs=("pool",),
    threat=ThreatCard(
        knowledge="black-box",
        data="n_samples outputs of the victim (images carrying its fingerprint)",
        compute="one Gaussian denoising per observed output; no training",
        quality="PSNR >= 30 dB (and 25 dB) vs the innocent image (report table)"),
)
def forgery_copy(images: torch.Tensor, n_samples: int = 128, *, seed: int = 0,
                 pool: torch.Tensor | None = None) -> torch.Tensor:
    """``images``: innocent Bx3xHxW float in [0,1] -> forged images, same shape."""
    check_adaptive_images(images, "forgery_copy")
    pool = require(pool, "pool", "forgery_copy", torch.Tensor)
    pattern = estimate_pattern(pool, n_samples, seed=seed, attack="forgery_copy")
    if pattern.shape != images.shape[1:]:
        raise ValueError(f"forgery_copy: pool images are {tuple(pattern.shape)}, innocent images {tuple(images.shape[1:])}")
    return (images + pattern.to(images.device, images.dtype)).clamp(0, 1)
