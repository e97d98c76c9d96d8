"""Tiny CPU fixtures for the adaptive attacks: 16x16 images, 8-bit codecs, a small autoencoder and denoiser."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fpbench.attacks.adaptive.denoiser import Denoiser
from fpbench.attacks.adaptive.regeneration import RegenerationAutoencoder
from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder, initialise

RES, BITS = 16, 8


def smooth_images(n: int, seed: int, res: int = RES) -> torch.Tensor:
    """Natural-ish images: upsampled 4x4 colour noise plus a little pixel noise, float in [0,1]."""
    g = torch.Generator().manual_seed(seed)
    base = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=(res, res), mode="bilinear", align_corners=False)
    return (0.15 + 0.7 * base + 0.03 * torch.randn(n, 3, res, res, generator=g)).clamp(0, 1)


def codec(seed: int = 0) -> tuple[FingerprintEncoder, FingerprintDecoder]:
    torch.manual_seed(seed)
    enc, dec = FingerprintEncoder(BITS, RES, "residual"), FingerprintDecoder(BITS, RES)
    initialise(enc)
    initialise(dec)
    with torch.no_grad():  # keep the untrained residual small so outputs are not saturated
        enc.to_rgb.weight.mul_(0.01)
    return enc.eval(), dec.eval()


def planted_patterns(seed: int = 5) -> torch.Tensor:
    """BITS fixed +-1 high-frequency patterns (BITS x 3 x RES x RES)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (BITS, 3, RES, RES), generator=g).float() * 2 - 1


def plant(images: torch.Tensor, bits: torch.Tensor, strength: float = 0.05) -> torch.Tensor:
    """Stamp ``bits`` (B x BITS or BITS) as a sum of signed planted patterns."""
    signs = (bits * 2 - 1).expand(len(images), -1)
    pattern = torch.einsum("bk,kchw->bchw", signs, planted_patterns()) / BITS**0.5
    return (images + strength * pattern).clamp(0, 1)


@pytest.fixture(scope="session")
def trained_decoder() -> FingerprintDecoder:
    """A decoder trained (200 steps) to read bits planted as fixed patterns: decodes them near-perfectly."""
    torch.manual_seed(1)
    dec = FingerprintDecoder(BITS, RES)
    initialise(dec)
    opt = torch.optim.Adam(dec.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(2)
    for step in range(200):
        x = smooth_images(32, 100 + step)
        bits = torch.randint(0, 2, (32, BITS), generator=g).float()
        loss = F.binary_cross_entropy_with_logits(dec(plant(x, bits)), bits)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return dec.eval()


@pytest.fixture
def images() -> torch.Tensor:
    return smooth_images(6, 0)


@pytest.fixture(scope="session")
def adversary_tools() -> dict:
    enc, dec = codec(3)
    torch.manual_seed(4)
    return {"surrogate_encoder": enc, "surrogate_decoder": dec,
            "autoencoder": RegenerationAutoencoder(patch=4, latent_channels=8, width=8).eval(),
            "denoiser": Denoiser(depth=3, width=8).eval(),
            "pool": (smooth_images(40, 9) * 255).round().to(torch.uint8), "pgd_steps": 5}


class Helpers:
    smooth = staticmethod(smooth_images)
    plant = staticmethod(plant)
    codec = staticmethod(codec)
    res, bits = RES, BITS


@pytest.fixture
def helpers() -> type[Helpers]:
    return Helpers
