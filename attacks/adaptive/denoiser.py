"""The adversary's Gaussian denoiser (for ``purification``): a small DnCNN (Zhang et al. 2017).

A stack of 3x3 convs with ReLUs predicts the noise of its input, which it subtracts (residual learning;
no batch norm, so an image's output never depends on its batch). It is blind to the noise level: trained
on the holdout photos with noise std drawn uniformly from [0, ``max_noise``] per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from fpbench.attacks.adaptive._context import check_training_images, fit_denoising


@dataclass(frozen=True)
class DenoiserConfig:
    depth: int = 5  # conv layers
    width: int = 24
    steps: int = 400
    batch_size: int = 32
    lr: float = 2e-3
    max_noise: float = 0.15  # training noise std is drawn uniformly from [0, max_noise] per image
    seed: int = 15485863
    version: int = 1


class Denoiser(nn.Module):
    """DnCNN: Bx3xHxW in [0,1] -> the input minus its predicted noise, clamped to [0,1]; any H, W."""

    def __init__(self, depth: int = 5, width: int = 24) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"a denoiser needs depth >= 2 conv layers, got {depth}")
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, 1, 1), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, 1, 1), nn.ReLU()]
        layers.append(nn.Conv2d(width, 3, 3, 1, 1))
        nn.init.zeros_(layers[-1].weight)  # starts as the identity
        nn.init.zeros_(layers[-1].bias)
        self.noise = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.noise(x)).clamp(0, 1)


def train_denoiser(images: torch.Tensor, cfg: DenoiserConfig, *, device: str = "cpu") -> Denoiser:
    """MSE to the clean image on uint8 Nx3xRxR ``images`` plus seeded Gaussian noise; deterministic given ``cfg.seed``."""
    check_training_images(images, "denoiser")
    with torch.random.fork_rng(devices=[]):  # the initial weights from cfg.seed, the caller's RNG untouched
        torch.manual_seed(cfg.seed)
        net = Denoiser(cfg.depth, cfg.width)
    return fit_denoising(net.to(device), images, steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr,
                         max_noise=cfg.max_noise, seed=cfg.seed, device=device)
