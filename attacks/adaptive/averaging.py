"""Averaging: estimate the fingerprint as the mean noise residual of many observed images, subtract it.

The adversary collects ``n_samples`` images that carry the same fingerprint (a generator's outputs, or
fingerprinted photos), takes each one's residual ``x - denoise(x)`` (the Gaussian denoiser of
:func:`fpbench.residual.noise_residual`, sigma 1 px), and averages them: scene content averages
out, the shared pattern stays. The removal attack subtracts that pattern; the copy forgery
(:mod:`attacks.adaptive.forgery`) adds it to innocent images.
"""

from __future__ import annotations

import numpy as np
import torch

from fpbench.attacks.adaptive._context import as_float, check_adaptive_images, require
from fpbench.attacks.registry import ThreatCard, register_attack
from fpbench.residual import noise_residual

DENOISE_SIGMA = 1.0


def estimate_pattern(pool: torch.Tensor, n_samples: int, *, seed: int, attack: str = "averaging") -> torch.Tensor:
    """Mean residual (3xHxW float32) of ``n_samples`` images drawn without replacement (order from
    ``seed``) from ``pool`` (Nx3xHxW, uint8 or float in [0,1])."""
    if int(n_samples) != n_samples or n_samples < 1:
        raise ValueError(f"{attack}: n_samples must be a positive integer, got {n_samples!r}")
    if pool.ndim != 4 or pool.shape[1] != 3:
        raise ValueError(f"{attack}: pool must be Nx3xHxW, got shape {tuple(pool.shape)}")
    if n_samples > len(pool):
        raise ValueError(f"{attack}: n_samples={n_samples} but the adversary's pool holds only {len(pool)} images")
    idx = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[: int(n_samples)]
    chosen = as_float(pool[idx]).cpu().numpy()
    total = np.zeros(chosen.shape[1:], dtype=np.float64)
    for i in range(0, len(chosen), 256):
        total += noise_residual(chosen[i:i + 256], "gaussian", DENOISE_SIGMA).sum(0)
    return torch.from_numpy(total / len(chosen)).float()


@register_attack(
    "averaging", kind="adaptive", param="n_samples", unit="fingerprinted images averaged by the adversary",
    grid=(8, 32, 128, 512), neutral=None, domain=(1, 10_000_000), category="removal", version=1, integer=True,
    description="Subtract the mean noise residual of n fingerprinted images (estimated pattern).",
    needs=("pool",),
    threat=ThreatCard(
        knowledge="black-box",
        data="n_samples other images carrying the same fingerprint (fingerprinted holdout photos, or the "
             "generator's other samples)",
        compute="one Gaussian denoising per observed image; no training, no queries to the victim's decoder",
        quality="counts at PSNR >= 30 dB (and 25 dB) vs the unattacked image (report table)"),
)
def averaging(images: torch.Tensor, n_samples: int = 128, *, seed: int = 0,
              pool: torch.Tensor | None = None) -> torch.Tensor:
    """``images``: Bx3xHxW float in [0,1] -> same shape; ``pool``: the adversary's other fingerprinted
    images (Nx3xHxW, same H, W)."""
    check_adaptive_images(images, "averaging")
    pool = require(pool, "pool", "averaging", torch.Tensor)
    pattern = estimate_pattern(pool, n_samples, seed=seed)
    if pattern.shape != images.shape[1:]:
        raise ValueError(f"averaging: pool images are {tuple(pattern.shape)}, attacked images {tuple(images.shape[1:])}")
    return (images - pattern.to(images.device, images.dtype)).clamp(0, 1)
