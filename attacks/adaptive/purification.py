"""Purification: add Gaussian noise, then remove it with the adversary's denoiser.

The diffusion-purification idea (DiffPure, and WAVES' regeneration attacks) in miniature: noise of std
``std`` drowns a faint fingerprint, and a denoiser trained only on clean photos
(:mod:`attacks.adaptive.denoiser`) restores the image, not the fingerprint.
"""

from __future__ import annotations

import torch
from torch import nn

from fpbench.attacks.adaptive._context import add_noise, check_adaptive_images, require
from fpbench.attacks.registry import ThreatCard, register_attack


@register_attack(
    "purification", kind="adaptive", param="std", unit="std of the noise added before denoising ([0,1] pixels)",
    grid=(0.02, 0.05, 0.1), neutral=0.0, domain=(0.0, 1.0), category="removal", version=1,
    description="Add N(0, std^2) noise, then remove it with the adversary's DnCNN denoiser.",
    needs=("denoiser",),
    threat=ThreatCard(
        knowledge="black-box",
        data="the holdout photos (disjoint from the victim's data) to train its denoiser; no fingerprinted image",
        compute="denoiser training (denoiser_steps Adam steps, batch 32); one forward pass per attacked image",
        quality="counts at PSNR >= 30 dB (and 25 dB) vs the unattacked image (report table)"),
)
def purification(images: torch.Tensor, std: float = 0.05, *, seed: int = 0,
                 denoiser: nn.Module | None = None) -> torch.Tensor:
    """``images``: Bx3xHxW float in [0,1] -> same shape. Image ``i``'s noise comes from its own generator
    seeded by ``(seed, i)``. ``std=0`` returns a copy (nothing to remove)."""
    check_adaptive_images(images, "purification")
    if denoiser is None:
        raise ValueError("purification: needs `denoiser` in its context (the adversary's Gaussian denoiser): train one "
                         "on clean photos with fpbench.attacks.adaptive.train_denoiser(uint8 images, DenoiserConfig()) "
                         "and pass context=AttackContext(denoiser=...) or denoiser=...")
    net = require(denoiser, "denoiser", "purification", nn.Module)
    if std == 0 or len(images) == 0:
        return images.clone()
    x = add_noise(images, std, seed)
    device = next(net.parameters()).device
    with torch.no_grad():
        out = torch.cat([net(x[i:i + 256].to(device)).to(images.device) for i in range(0, len(x), 256)])
    return out.clamp(0, 1)
