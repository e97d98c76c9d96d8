"""A tiny third-party fingerprinting method for fpbench, registered only through the entry-point group
``fpbench.methods`` (see this package's pyproject.toml): install the package and ``fpbench methods`` lists
``example_parity``; no fpbench file names it."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from fpbench.methods import FingerprintMethod, MethodError

__version__ = "0.1.0"
__all__ = ["ParityMethod"]


class ParityMethod(FingerprintMethod):
    """Each bit owns a key-seeded random share of the pixels, carrying a random ±1 pattern. ``embed`` adds
    ``strength`` grey levels times the pattern, signed by the bit (+ for 1, - for 0); ``decode`` correlates
    the image's high-pass residual (image minus its 3x3 box blur) with each bit's pattern. Classical: nothing
    to fit, no learned state. Options: ``key`` (seeds the patterns), ``strength`` (grey levels, > 0)."""

    id = "example_parity"

    def __init__(self, n_bits: int, resolution: int, *, key: int = 0, strength: float = 4.0) -> None:
        super().__init__(n_bits, resolution)
        if isinstance(key, bool) or not isinstance(key, int):
            raise MethodError(f"{self.id}: key must be an integer, got {key!r}")
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength <= 64:
            raise MethodError(f"{self.id}: strength must be a number of grey levels in (0, 64], got {strength!r}")
        self.key, self.strength = key, float(strength)
        gen = torch.Generator().manual_seed(key)
        size = 3 * resolution * resolution
        owner = torch.randperm(size, generator=gen) % n_bits  # pixel -> the bit it carries
        sign = torch.randint(0, 2, (size,), generator=gen).float() * 2 - 1
        pattern = F.one_hot(owner, n_bits).T.float() * sign  # n_bits x pixels, ±1 on the bit's pixels
        self._pattern = pattern.reshape(n_bits, 3, resolution, resolution)
        self._pixels = pattern.abs().sum(dim=1).clamp(min=1)  # pixels per bit

    @property
    def config(self) -> dict[str, Any]:
        return {**super().config, "key": self.key, "strength": self.strength}

    def embed(self, images: torch.Tensor, fingerprints: torch.Tensor) -> torch.Tensor:
        x = self.check_images(images, exact=True)
        bits = self.check_fingerprints(fingerprints, len(x))
        delta = torch.einsum("nb,bchw->nchw", bits * 2 - 1, self._pattern) * (self.strength / 255)
        return self.quantise(x + delta)

    def decode(self, images: torch.Tensor) -> torch.Tensor:
        x = self.check_images(images, exact=False)
        r = self.resolution
        if tuple(x.shape[-2:]) != (r, r):
            x = F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=True)
        blur = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        corr = torch.einsum("nchw,bchw->nb", x - blur, self._pattern) / self._pixels
        # an embedded bit leaves about 8/9 of strength in the residual: scale that to a logit of about 4
        return torch.sigmoid(corr * (255 / self.strength) * 4.5)
