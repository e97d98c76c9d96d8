"""Regeneration: push images through a lossy denoising autoencoder the adversary trained on clean data.

Like the VAE/diffusion regeneration of WAVES, in miniature: Gaussian noise of std ``std`` is added, then
the autoencoder (a bottleneck of ``latent_channels`` at a quarter of the side, i.e. 6x fewer numbers
than the image at the defaults) reconstructs the image. It never saw fingerprinted images, so whatever
high-frequency pattern it cannot represent is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fpbench.attacks.adaptive._context import check_adaptive_images, image_generator, require
from fpbench.attacks.registry import register_attack


@dataclass(frozen=True)
class AutoencoderConfig:
    width: int = 32
    latent_channels: int = 8
    steps: int = 400
    batch_size: int = 32
    lr: float = 1e-3
    max_noise: float = 0.2  # training noise std is drawn uniformly from [0, max_noise] per image
    seed: int = 104729
    version: int = 1


class RegenerationAutoencoder(nn.Module):
    """Conv autoencoder: RxR -> (R/4)x(R/4)x``latent_channels`` -> RxR, sigmoid output in [0,1]."""

    def __init__(self, width: int = 32, latent_channels: int = 8) -> None:
        super().__init__()
        w = width
        self.encode = nn.Sequential(
            nn.Conv2d(3, w, 3, 1, 1), nn.ReLU(), nn.Conv2d(w, 2 * w, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, 2, 1), nn.ReLU(), nn.Conv2d(2 * w, latent_channels, 1),
        )
        self.decode = nn.Sequential(
            nn.Conv2d(latent_channels, 2 * w, 3, 1, 1), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(2 * w, w, 3, 1, 1), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(w, w, 3, 1, 1), nn.ReLU(), nn.Conv2d(w, 3, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: Bx3xRxR in [0,1] (R divisible by 4). Returns Bx3xRxR in [0,1]."""
        return torch.sigmoid(self.decode(self.encode(x)))


def train_autoencoder(images: torch.Tensor, cfg: AutoencoderConfig, *, device: str = "cpu") -> RegenerationAutoencoder:
    """Denoising training (MSE to the clean image) on uint8 Nx3xRxR images; deterministic given ``cfg.seed``."""
    if images.ndim != 4 or images.shape[1] != 3 or images.dtype != torch.uint8 or len(images) == 0:
        raise ValueError(f"autoencoder training needs uint8 Nx3xRxR images, got {images.dtype} {tuple(images.shape)}")
    torch.manual_seed(cfg.seed)
    net = RegenerationAutoencoder(cfg.width, cfg.latent_channels).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    net.train()
    for _ in range(cfg.steps):
        idx = torch.randint(0, len(images), (cfg.batch_size,), generator=gen)
        x = images[idx].float().div(255)
        std = torch.rand(cfg.batch_size, 1, 1, 1, generator=gen) * cfg.max_noise
        noisy = (x + std * torch.randn(x.shape, generator=gen)).clamp(0, 1)
        loss = F.mse_loss(net(noisy.to(device)), x.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


@register_attack(
    "regeneration", kind="adaptive", param="std", unit="std of the noise added before autoencoding ([0,1] pixels)",
    grid=(0.0, 0.05, 0.1, 0.2), neutral=None, domain=(0.0, 1.0), category="removal", version=1,
    description="Add N(0, std^2) noise, then reconstruct with the adversary's denoising autoencoder.",
    needs=("autoencoder",),
)
def regeneration(images: torch.Tensor, std: float = 0.0, *, seed: int = 0,
                 autoencoder: nn.Module | None = None) -> torch.Tensor:
    """``images``: Bx3xHxW float in [0,1] -> same shape. Noise for image ``i`` comes from its own
    generator seeded by ``(seed, i)``; ``std=0`` still reconstructs (it is not a no-op)."""
    check_adaptive_images(images, "regeneration")
    net = require(autoencoder, "autoencoder", "regeneration", nn.Module)
    if len(images) == 0:
        return images.clone()
    x = images
    if std > 0:
        noise = torch.stack([torch.randn(images.shape[1:], generator=image_generator(seed, i))
                             for i in range(len(images))])
        x = (images + std * noise.to(images.device, images.dtype)).clamp(0, 1)
    device = next(net.parameters()).device
    with torch.no_grad():
        out = torch.cat([net(x[i:i + 256].to(device)).to(images.device) for i in range(0, len(x), 256)])
    return out.clamp(0, 1)
