"""Classical least-significant-bit steganography as a :class:`FingerprintMethod` (training-free).

The paper's negative control: a classical steganographic stamp on the training images, which a generator
does not reproduce in its samples (~0.51-0.53 bit accuracy). This is the simplest such stamp:

- a ``key``-seeded :class:`torch.Generator` draws a fixed random permutation of the ``3 * R * R``
  (channel, row, column) positions and a fixed random 0/1 mask, one per position;
- bit ``i`` is written, XORed with the mask, into the least significant bit of ``repeat`` positions
  (repetition coding); ``repeat = floor(3 * R * R / n_bits)``, capped by ``max_repeat`` when given. The
  default (``max_repeat=None``) uses the whole capacity: an LSB change costs at most 1/255, so the data PSNR
  stays ~51 dB however many positions carry bits, and every extra read makes the majority vote stronger;
- ``decode`` reads the LSBs back (images of another size are first resized to R x R, then quantised to
  uint8), XORs the mask out and returns, per bit, the mean of its ``repeat`` reads: a soft bit in [0, 1].

``strength`` (default 1) is the knob a run turns to compare methods at one data PSNR
(:mod:`fpbench.methods.fidelity`). LSB replacement is quantisation index modulation in the pixel domain with
step 2: the pixels of bit 0 sit on the even levels, those of bit 1 on the odd ones. Strength ``s`` widens
the step to ``2 s`` levels: a written pixel moves to the nearest level of its bit's lattice ``{2 s k +
b s}`` (on a tie, the one in its own cell ``[2 s floor(v / 2 s), 2 s floor(v / 2 s) + 2 s)``, which at
``s = 1`` is exactly ``(v & ~1) | b``), and is read back as the nearer lattice. At ``s = 1`` this is classical
LSB bit for bit; larger steps cost PSNR (~51 dB at 1, ~32 dB near 11 at full capacity) and survive more.

The XOR mask whitens the stamp: read with another key, every LSB is an independent fair coin, so the
decoded bits are at chance (without it they would follow the fingerprint's share of ones).

Everything depends on ``(key, n_bits, resolution, max_repeat, strength)`` only, never on a global RNG.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from fpbench.fingerprint.embedding import resize_for
from fpbench.methods.base import FingerprintMethod, MethodError
from fpbench.methods.registry import register_method


def check_key(method_id: str, key: object) -> int:
    """A key usable as a :class:`torch.Generator` seed (an integer in [0, 2**63)), or a MethodError."""
    if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < 2**63:
        raise MethodError(f"{method_id}: key must be an integer in [0, 2**63), got {key!r}")
    return key


@register_method("lsb")
class LSB(FingerprintMethod):
    """Key-seeded LSB embedding with repetition coding. Options: ``key`` (int, default 0), ``max_repeat``
    (int >= 1 or None for all capacity, default None) and ``strength`` (>= 1, default 1: the pixel lattice
    step in units of 2 levels; 1 is classical LSB)."""

    id = "lsb"
    learned = False
    tunable = True
    strength_range = (1.0, 64.0)

    def __init__(self, n_bits: int, resolution: int, *, key: int = 0, max_repeat: int | None = None,
                 strength: float = 1.0, **unknown: Any) -> None:
        super().__init__(n_bits, resolution)
        if unknown:
            raise MethodError(f"{self.id}: unknown option(s) {', '.join(sorted(unknown))}; options are key, "
                              "max_repeat, strength")
        self.key = check_key(self.id, key)
        self.strength = strength
        if max_repeat is not None and (isinstance(max_repeat, bool) or not isinstance(max_repeat, int)
                                       or max_repeat < 1):
            raise MethodError(f"{self.id}: max_repeat must be a positive integer or None, got {max_repeat!r}")
        self.max_repeat = max_repeat
        capacity = 3 * resolution * resolution
        if n_bits > capacity:
            raise MethodError(f"{self.id}: {n_bits} bits do not fit in {resolution}x{resolution} RGB images "
                              f"({capacity} least significant bits); use fewer bits or a larger resolution")
        self.repeat = capacity // n_bits if max_repeat is None else min(capacity // n_bits, max_repeat)
        g = torch.Generator().manual_seed(self.key)
        perm = torch.randperm(capacity, generator=g)
        mask = torch.randint(0, 2, (capacity,), generator=g, dtype=torch.uint8)
        used = perm[: self.repeat * n_bits]
        # positions[r, i]: the flat (channel, row, column) index of the r-th copy of bit i; mask likewise.
        self.positions = used.view(self.repeat, n_bits)
        self.mask = mask[used].view(self.repeat, n_bits)

    @property
    def strength(self) -> float:
        return self._strength

    @strength.setter
    def strength(self, value: float) -> None:
        self._strength = self.check_strength(value)

    @property
    def config(self) -> dict[str, Any]:
        return {**super().config, "key": self.key, "max_repeat": self.max_repeat, "strength": self.strength}

    def embed(self, images: torch.Tensor, fingerprints: torch.Tensor) -> torch.Tensor:
        x = self.check_images(images, exact=True)
        bits = self.check_fingerprints(fingerprints, len(x)).to(torch.uint8)
        out = self.quantise(x).flatten(1).clone()
        pos, mask = self.positions.to(out.device), self.mask.to(out.device)
        payload = bits.to(out.device)[:, None, :] ^ mask  # N x repeat x n_bits
        if self.strength == 1.0:  # classical LSB replacement
            out[:, pos] = (out[:, pos] & 0xFE) | payload
        else:
            out[:, pos] = self._to_lattice(out[:, pos].double(), payload.double())
        return out.view(len(x), 3, self.resolution, self.resolution)

    def _to_lattice(self, v: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Each level ``v`` (0..255) moved to the nearest level of the lattice ``{step k + b step / 2}`` that
        lies in [0, 255], a tie going to the point in ``v``'s own cell; rounded to uint8."""
        step = 2 * self.strength
        own = torch.floor(v / step) * step + b * step / 2  # the lattice point in v's cell
        candidates = torch.stack([own, own - step, own + step])
        distance = (candidates - v).abs().masked_fill((candidates < 0) | (candidates > 255), math.inf)
        distance[1:] += 1e-9  # a neighbour must be strictly nearer: ties stay in the cell
        best = candidates.gather(0, distance.argmin(0, keepdim=True))[0]
        return best.round().clamp(0, 255).to(torch.uint8)

    def decode(self, images: torch.Tensor) -> torch.Tensor:
        x = resize_for(self.check_images(images, exact=False), self.resolution)
        u = self.quantise(x).flatten(1)
        pos, mask = self.positions.to(u.device), self.mask.to(u.device)
        if self.strength == 1.0:
            raw = u[:, pos] & 1
        else:  # the nearer lattice: phase within a step in [1/4, 3/4) is bit 1
            phase = torch.remainder(u[:, pos].double() / (2 * self.strength), 1.0)
            raw = ((phase >= 0.25) & (phase < 0.75)).to(torch.uint8)
        reads = raw ^ mask  # N x repeat x n_bits
        return reads.float().mean(1)
