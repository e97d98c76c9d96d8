"""ResNet GAN (SNGAN-style, Miyato et al. 2018) for any power-of-two resolution >= 16.

G: linear z -> 4x4, then one residual up-block per doubling (BN-ReLU-nearest upsample-conv3x3-BN-ReLU-
conv3x3, shortcut upsample + 1x1 conv), then BN-ReLU-conv3x3 -> RGB, tanh mapped to [0, 1] by
``(tanh + 1) / 2``. D: residual down-blocks with spectral norm (ReLU-conv3x3-ReLU-conv3x3-avgpool,
shortcut 1x1 conv + avgpool; the first block skips the leading ReLU) down to 4x4, ReLU, global sum
pooling, spectral-normed linear -> one logit. Input of D is [0, 1], mapped to [-1, 1] inside.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from fpbench.generators.registry import GENERATORS, channels_at


def _init_xavier(module: nn.Module) -> None:
    """Xavier-uniform weights, zero biases, on modules without parametrizations."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _sn(layer: nn.Module) -> nn.Module:
    """Initialise (Xavier) and then wrap in spectral norm: initialising afterwards would write into
    the computed weight, not the stored one."""
    _init_xavier(layer)
    return spectral_norm(layer)


class UpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(c_in), nn.BatchNorm2d(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.skip(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, *, first: bool) -> None:
        super().__init__()
        self.first = first
        self.conv1 = _sn(nn.Conv2d(c_in, c_out, 3, 1, 1))
        self.conv2 = _sn(nn.Conv2d(c_out, c_out, 3, 1, 1))
        self.skip = _sn(nn.Conv2d(c_in, c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(h))), 2)
        # the first block pools before its shortcut conv (cheaper, same function class)
        s = self.skip(F.avg_pool2d(x, 2)) if self.first else F.avg_pool2d(self.skip(x), 2)
        return h + s


class ResNetGenerator(nn.Module):
    """``B x latent_dim`` -> ``B x 3 x R x R`` in [0, 1]."""

    def __init__(self, resolution: int, latent_dim: int, width: int) -> None:
        super().__init__()
        self.resolution, self.latent_dim = resolution, latent_dim
        sizes = [4 * 2**i for i in range(int(math.log2(resolution)) - 1)]  # 4, 8, ..., R
        chs = [channels_at(width, resolution, s) for s in sizes]
        self.c0 = chs[0]
        self.project = nn.Linear(latent_dim, 16 * chs[0])
        self.blocks = nn.Sequential(*(UpBlock(a, b) for a, b in zip(chs[:-1], chs[1:], strict=True)))
        self.bn = nn.BatchNorm2d(chs[-1])
        self.to_rgb = nn.Conv2d(chs[-1], 3, 3, 1, 1)
        _init_xavier(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(z.shape[0], self.c0, 4, 4)
        x = self.to_rgb(F.relu(self.bn(self.blocks(x))))
        return (torch.tanh(x) + 1) / 2


class ResNetDiscriminator(nn.Module):
    """``B x 3 x R x R`` in [0, 1] -> ``B`` logits."""

    def __init__(self, resolution: int, width: int) -> None:
        super().__init__()
        self.resolution = resolution
        sizes = [resolution // 2**i for i in range(1, int(math.log2(resolution)) - 1)]  # R/2, ..., 4
        chs = [channels_at(width, resolution, s) for s in sizes]
        blocks = [DownBlock(3, chs[0], first=True)]
        blocks += [DownBlock(a, b, first=False) for a, b in zip(chs[:-1], chs[1:], strict=True)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = _sn(nn.Linear(chs[-1], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(x * 2 - 1)).sum(dim=(2, 3))
        return self.linear(h).flatten()


@GENERATORS.register("resnet")
def build_resnet(resolution: int, latent_dim: int, width: int) -> tuple[nn.Module, nn.Module]:
    """ResNet pair ``(G, D)``; ``width`` is the channel count at the finest level."""
    return ResNetGenerator(resolution, latent_dim, width), ResNetDiscriminator(resolution, width)
