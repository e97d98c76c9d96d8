"""The StegaStamp-style fingerprint encoder and decoder of Yu et al. (ICCV 2021), as in the authors' code.

Encoder: bits -> Linear(n_bits, 3*16*16) + ReLU -> 3x16x16 map -> nearest upsample to RxR ->
concatenated with the image -> U-Net (down 32 s1, 32 s2, 64 s2, 128 s2, 256 s2; up 128, 64, 32, 32
with 2x upsample + 2x2 conv + skip concat; the last concat also takes the 6-channel input) -> conv 32
-> 1x1 conv to 3 channels -> sigmoid (the paper's ``output="sigmoid"``: the whole image is
re-synthesised).

Deviations offered (documented in docs/method.md): the same network predicts a residual instead of the
whole image. The paper's sigmoid head must learn to copy the image through the U-Net before it can hide
anything, which on 2 CPU cores leaves PSNR near 25 dB.
- ``output="residual"``: ``clamp(x + r, 0, 1)``;
- ``output="residual_logit"``: ``sigmoid(logit(x) + r)``, in [0,1] without a hard clamp (a clamp stops
  gradients wherever the early, unconstrained residual saturates a pixel).

Decoder: 3x3 convs + ReLU 32 s2, 32, 64 s2, 64, 64 s2, 128 s2, 128 s2 -> flatten -> Linear 512 + ReLU
-> Linear n_bits (logits; a bit is 1 when its logit > 0).

Images are Bx3xRxR float in [0,1]; R is a power of two >= 16.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

OUTPUTS = ("sigmoid", "residual", "residual_logit")
RESIDUAL_EPS = 1e-3  # logit clamp: a residual encoder maps 0 and 1 to 0.001 and 0.999 at initialisation
INITS = ("kaiming", "pytorch")


def check_resolution(resolution: int) -> int:
    if resolution < 16 or resolution & (resolution - 1):
        raise ValueError(f"resolution must be a power of two >= 16, got {resolution}")
    return resolution


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride, 1)


class _Up(nn.Module):
    """2x nearest upsample, pad right/bottom by one, 2x2 conv, ReLU (the authors' up-block)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return F.relu(self.conv(F.pad(x, (0, 1, 0, 1))))


class FingerprintEncoder(nn.Module):
    def __init__(self, n_bits: int, resolution: int, output: str = "sigmoid") -> None:
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        self.n_bits, self.resolution, self.output = n_bits, check_resolution(resolution), output
        self.fingerprint = nn.Linear(n_bits, 3 * 16 * 16)
        self.down = nn.ModuleList([
            _conv(6, 32), _conv(32, 32, 2), _conv(32, 64, 2), _conv(64, 128, 2), _conv(128, 256, 2),
        ])
        self.up = nn.ModuleList([_Up(256, 128), _Up(128, 64), _Up(64, 32), _Up(32, 32)])
        self.merge = nn.ModuleList([_conv(256, 128), _conv(128, 64), _conv(64, 32), _conv(70, 32)])
        self.conv10 = _conv(32, 32)
        self.to_rgb = nn.Conv2d(32, 3, 1)
        # scale of the change the encoder makes (1 = as trained); set by calibration to a target PSNR
        # (fpbench.fingerprint.calibration) and saved in the checkpoint's metadata
        self.strength = 1.0

    def forward(self, image: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
        """``image``: Bx3xRxR in [0,1]; ``bits``: Bxn_bits {0,1}. Returns Bx3xRxR in [0,1]."""
        fp = F.relu(self.fingerprint(bits)).view(-1, 3, 16, 16)
        fp = F.interpolate(fp, scale_factor=self.resolution // 16, mode="nearest")
        inputs = torch.cat([fp, image], 1)
        skips, h = [], inputs
        for conv in self.down:
            h = F.relu(conv(h))
            skips.append(h)
        skips.pop()  # the bottleneck is not a skip
        for up, merge in zip(self.up, self.merge, strict=True):
            h = up(h)
            skip = skips.pop()
            h = torch.cat([skip, h, inputs], 1) if not skips else torch.cat([skip, h], 1)
            h = F.relu(merge(h))
        h = self.to_rgb(F.relu(self.conv10(h)))
        if self.output == "sigmoid":
            out = torch.sigmoid(h)
        elif self.output == "residual_logit":
            out = torch.sigmoid(torch.logit(image, eps=RESIDUAL_EPS) + h)
        else:
            out = (image + h).clamp(0, 1)
        if self.strength == 1.0:
            return out
        return (image + self.strength * (out - image)).clamp(0, 1)


class FingerprintDecoder(nn.Module):
    def __init__(self, n_bits: int, resolution: int) -> None:
        super().__init__()
        self.n_bits, self.resolution = n_bits, check_resolution(resolution)
        widths = [(3, 32, 2), (32, 32, 1), (32, 64, 2), (64, 64, 1), (64, 64, 2), (64, 128, 2), (128, 128, 2)]
        self.convs = nn.Sequential(*[m for a, b, s in widths for m in (_conv(a, b, s), nn.ReLU())])
        side = max(1, resolution // 32)
        self.dense = nn.Sequential(nn.Linear(side * side * 128, 512), nn.ReLU(), nn.Linear(512, n_bits))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``image``: Bx3xRxR in [0,1]. Returns Bxn_bits logits."""
        return self.dense(self.convs(image).flatten(1))


def initialise(module: nn.Module, scheme: str = "kaiming") -> None:
    """Kaiming-normal weights with zero biases, Xavier on the output layers.

    With PyTorch's default init (``scheme="pytorch"``, the authors' code) the decoder's output barely
    depends on its input at first and bit accuracy sits at 0.5 for hundreds of steps: the stuck runs
    users report upstream. Kaiming init makes learning start at step one. (A residual encoder whose last
    layer starts at zero, i.e. at the identity, did not start learning in 180 steps: the decoder needs
    a fingerprint-dependent signal in the image to latch on to.)"""
    if scheme not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {scheme!r}")
    if scheme == "pytorch":
        return
    layers = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for layer in layers:
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        nn.init.zeros_(layer.bias)
    nn.init.xavier_normal_(layers[-1].weight)
