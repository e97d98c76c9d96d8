"""Classical block-DCT quantisation index modulation (QIM) as a :class:`FingerprintMethod` (training-free).

A frequency-domain classical stamp, the JPEG-aware counterpart of :mod:`fpbench.methods.lsb`:

- the luma channel ``Y = 0.299 R + 0.587 G + 0.114 B`` (BT.601, in 8-bit levels 0..255) is cut into 8x8
  blocks on the same grid as JPEG's and each block is transformed by the orthonormal DCT-II, written as a
  product with the precomputed DCT matrix (:func:`dct_matrix`). Luma rather than each RGB channel: JPEG
  keeps luma at full resolution and quantises it more finely, while it subsamples and coarsens chroma;
- the slots are the mid-frequency coefficients ``3 <= u + v <= 6`` (22 per block) of every block; a
  ``key``-seeded :class:`torch.Generator` draws a permutation of all slots (bit ``i`` goes to ``repeat =
  floor(slots / n_bits)`` of them, spread over the image) and a dither in ``[0, delta)`` per slot;
- bit ``b`` moves its coefficient to the nearest point of the lattice ``delta * Z + dither + b * delta / 2``
  (dithered QIM); the luma change is added equally to R, G and B (which changes Y by exactly that much and
  leaves the chroma alone), and the result is rounded to uint8. Because rounding and clipping to [0, 255]
  move the coefficients a little, the projection is repeated on the rounded image (at most ``PASSES``
  times) until every slot sits within ``delta / 8`` of its lattice;
- ``decode`` (images of another size are first resized to R x R) reads each slot's bit as the nearer of
  the two lattices and returns, per bit, the mean over its ``repeat`` slots: a soft bit in [0, 1].

``delta`` is in 8-bit grey levels. The default, 16, keeps the data PSNR near 39-40 dB at 16 and 32 px
(distortion ~ 22/64 * delta**2 / 12 per pixel; 35 dB would allow delta ~ 27; flat white or black images,
where clipping forces the re-projection to spread the change, measured ~37 dB) and is large against the
uint8 rounding noise (std ~ 0.2 levels per coefficient, decisions flip at delta / 4 = 4 levels), while
giving some resistance to JPEG q90 (whose luma mid-frequency quantisation steps are ~2-12 levels).

``strength`` (default 1) scales the step: ``delta = 16 * strength`` unless ``delta`` is given; a run turns
it to compare methods at one data PSNR (:mod:`fpbench.methods.fidelity`).

Everything depends on ``(key, delta, n_bits, resolution)`` only, never on a global RNG.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import torch

from fpbench.fingerprint.embedding import resize_for
from fpbench.methods.base import FingerprintMethod, MethodError
from fpbench.methods.lsb import check_key
from fpbench.methods.registry import register_method

BLOCK = 8
BAND = (3, 6)  # mid frequencies: BAND[0] <= u + v <= BAND[1]
PASSES = 4  # re-projections after uint8 rounding
LUMA = (0.299, 0.587, 0.114)  # BT.601
DELTA = 16.0  # the default quantisation step (8-bit levels)


@cache
def dct_matrix(n: int = BLOCK) -> torch.Tensor:
    """The orthonormal DCT-II matrix (float64, ``n x n``): ``D @ x`` is ``scipy.fft.dct(x, norm="ortho")``,
    and ``D.T`` is its inverse."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    d = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
    d[0] /= math.sqrt(2)
    return d


def block_dct(y: torch.Tensor) -> torch.Tensor:
    """``N x H x W`` (H, W multiples of 8) -> ``N x blocks x 8 x 8``: the 2-D orthonormal DCT-II of each 8x8
    block, blocks in row-major order."""
    n, h, w = y.shape
    d = dct_matrix(BLOCK).to(y.device, y.dtype)
    blocks = y.reshape(n, h // BLOCK, BLOCK, w // BLOCK, BLOCK).permute(0, 1, 3, 2, 4)
    return (d @ blocks @ d.T).reshape(n, (h // BLOCK) * (w // BLOCK), BLOCK, BLOCK)


def block_idct(c: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The inverse of :func:`block_dct`: ``N x blocks x 8 x 8`` -> ``N x H x W``."""
    d = dct_matrix(BLOCK).to(c.device, c.dtype)
    blocks = (d.T @ c @ d).reshape(len(c), h // BLOCK, w // BLOCK, BLOCK, BLOCK)
    return blocks.permute(0, 1, 3, 2, 4).reshape(len(c), h, w)


def band_positions() -> list[int]:
    """Flat ``u * 8 + v`` indices of the mid-frequency coefficients of one block (22 of them)."""
    return [u * BLOCK + v for u in range(BLOCK) for v in range(BLOCK) if BAND[0] <= u + v <= BAND[1]]


def luma(x: torch.Tensor) -> torch.Tensor:
    """``N x 3 x H x W`` -> ``N x H x W`` BT.601 luma, same scale."""
    return LUMA[0] * x[:, 0] + LUMA[1] * x[:, 1] + LUMA[2] * x[:, 2]


@register_method("dct_qim")
class DCTQIM(FingerprintMethod):
    """Key-seeded dithered QIM of mid-frequency 8x8-block DCT coefficients of luma, with repetition coding.
    Options: ``key`` (int, default 0) and ``delta`` (quantisation step in 8-bit levels, default 16), or
    ``strength`` (``delta`` in units of 16 levels)."""

    id = "dct_qim"
    learned = False
    tunable = True
    strength_range = (1 / 16, 255 / 16)

    def __init__(self, n_bits: int, resolution: int, *, key: int = 0, delta: float = DELTA,
                 strength: float | None = None, **unknown: Any) -> None:
        super().__init__(n_bits, resolution)
        if unknown:
            raise MethodError(f"{self.id}: unknown option(s) {', '.join(sorted(unknown))}; options are key, "
                              "delta, strength")
        if strength is not None:
            if delta != DELTA:
                raise MethodError(f"{self.id}: give delta or strength, not both")
            delta = self.check_strength(strength) * DELTA
        if resolution % BLOCK:
            raise MethodError(f"{self.id}: resolution must be a multiple of {BLOCK} (8x8 DCT blocks), got "
                              f"{resolution}; use e.g. {max(BLOCK, resolution - resolution % BLOCK)} or "
                              f"{resolution + BLOCK - resolution % BLOCK}")
        self.key = check_key(self.id, key)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta <= 255 \
                or not math.isfinite(delta):
            raise MethodError(f"{self.id}: delta must be a number in (0, 255] (8-bit levels), got {delta!r}")
        self.delta = float(delta)
        band = torch.tensor(band_positions())
        n_blocks = (resolution // BLOCK) ** 2
        slots = (torch.arange(n_blocks)[:, None] * BLOCK * BLOCK + band[None, :]).flatten()
        if n_bits > len(slots):
            raise MethodError(f"{self.id}: {n_bits} bits do not fit in {resolution}x{resolution} images "
                              f"({len(slots)} mid-frequency DCT coefficients); use fewer bits or a larger "
                              "resolution")
        self.repeat = len(slots) // n_bits
        g = torch.Generator().manual_seed(self.key)
        perm = torch.randperm(len(slots), generator=g)[: self.repeat * n_bits]
        dither = torch.rand(len(slots), generator=g, dtype=torch.float64)
        # slots[r, i]: the flat (block * 64 + u * 8 + v) coefficient of the r-th copy of bit i; the dither, in
        # units of delta, likewise.
        self.slots = slots[perm].view(self.repeat, n_bits)
        self._dither_unit = dither[perm].view(self.repeat, n_bits)

    @property
    def dither(self) -> torch.Tensor:
        """The dither of every slot in [0, delta), in 8-bit levels."""
        return self._dither_unit * self.delta

    @property
    def strength(self) -> float:
        return self.delta / DELTA

    @strength.setter
    def strength(self, value: float) -> None:
        self.delta = self.check_strength(value) * DELTA

    @property
    def config(self) -> dict[str, Any]:
        return {**super().config, "key": self.key, "delta": self.delta}

    def _coefficients(self, x255: torch.Tensor) -> torch.Tensor:
        """``N x 3 x R x R`` float64 in 8-bit levels -> the slots' coefficients, ``N x repeat x n_bits``."""
        return block_dct(luma(x255)).flatten(1)[:, self.slots.to(x255.device)]

    def _phase(self, c: torch.Tensor) -> torch.Tensor:
        """Position of each coefficient within its dithered lattice cell, in [0, 1): 0 is on the 0-lattice,
        1/2 on the 1-lattice."""
        return torch.remainder((c - self.dither.to(c.device)) / self.delta, 1.0)

    def embed(self, images: torch.Tensor, fingerprints: torch.Tensor) -> torch.Tensor:
        x = self.check_images(images, exact=True)
        bits = self.check_fingerprints(fingerprints, len(x)).to(x.device, torch.float64)
        r = self.resolution
        slots = self.slots.to(x.device)
        offset = self.dither.to(x.device) + bits[:, None, :] * self.delta / 2  # N x repeat x n_bits
        cur = self.quantise(x).to(torch.float64)  # 8-bit levels, integer-valued
        for _ in range(PASSES):
            c = self._coefficients(cur)
            target = torch.round((c - offset) / self.delta) * self.delta + offset
            change = target - c
            if change.numel() == 0 or change.abs().max() <= self.delta / 8:
                break
            dc = torch.zeros(len(x), (r // BLOCK) ** 2 * BLOCK * BLOCK, dtype=torch.float64, device=x.device)
            dc[:, slots.flatten()] = change.flatten(1)
            dy = block_idct(dc.view(len(x), (r // BLOCK) ** 2, BLOCK, BLOCK), r, r)
            cur = (cur + dy[:, None]).clamp(0, 255).round()
        return cur.to(torch.uint8)

    def decode(self, images: torch.Tensor) -> torch.Tensor:
        x = resize_for(self.check_images(images, exact=False), self.resolution)
        phase = self._phase(self._coefficients(x.to(torch.float64) * 255))
        bits = (phase >= 0.25) & (phase < 0.75)  # nearer the 1-lattice than the 0-lattice
        return bits.float().mean(1)
