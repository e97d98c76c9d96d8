"""DCGAN (Radford et al. 2016) for any power-of-two resolution >= 16.

G: z -> 4x4 (transposed conv) -> stride-2 transposed convs with BatchNorm + ReLU -> RGB, tanh mapped
to [0, 1] by ``(tanh + 1) / 2``. D: stride-2 4x4 convs with LeakyReLU(0.2) and spectral norm (no
BatchNorm, so real and fake batches can share one forward pass) -> 4x4 valid conv -> one logit.
Input of D is [0, 1], mapped to [-1, 1] inside. Channels follow :func:`channels_at`.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from fpbench.generators.registry import GENERATORS, channels_at


def _init_dcgan(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02), zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """``B x latent_dim`` -> ``B x 3 x R x R`` in [0, 1]."""

    def __init__(self, resolution: int, latent_dim: int, width: int) -> None:
        super().__init__()
        self.resolution, self.latent_dim = resolution, latent_dim
        sizes = [4 * 2**i for i in range(int(math.log2(resolution)) - 2)]  # 4, 8, ..., R/2
        chs = [channels_at(width, resolution, s) for s in sizes]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, chs[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(chs[0]),
            nn.ReLU(inplace=True),
        ]
        for c_in, c_out in zip(chs[:-1], chs[1:], strict=True):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(inplace=True)]
        layers.append(nn.ConvTranspose2d(chs[-1], 3, 4, 2, 1))
        self.net = nn.Sequential(*layers)
        _init_dcgan(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(z.view(z.shape[0], self.latent_dim, 1, 1))
        return (torch.tanh(x) + 1) / 2


class DCGANDiscriminator(nn.Module):
    """``B x 3 x R x R`` in [0, 1] -> ``B`` logits."""

    def __init__(self, resolution: int, width: int) -> None:
        super().__init__()
        self.resolution = resolution
        sizes = [resolution // 2**i for i in range(1, int(math.log2(resolution)) - 1)]  # R/2, ..., 4
        chs = [channels_at(width, resolution, s) for s in sizes]
        layers: list[nn.Module] = [spectral_norm(nn.Conv2d(3, chs[0], 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(chs[:-1], chs[1:], strict=True):
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        layers.append(spectral_norm(nn.Conv2d(chs[-1], 1, 4, 1, 0)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1).flatten()


@GENERATORS.register("dcgan")
def build_dcgan(resolution: int, latent_dim: int, width: int) -> tuple[nn.Module, nn.Module]:
    """DCGAN pair ``(G, D)``; ``width`` is the channel count at the finest level (default 32 on CPU)."""
    return DCGANGenerator(resolution, latent_dim, width), DCGANDiscriminator(resolution, width)
