"""Methods at equal fidelity: the strength at which a tunable method stamps images at a target PSNR.

Robustness bought with visible distortion is no comparison: a stamp twice as strong survives more and
shows more. A run therefore turns every tunable method (``FingerprintMethod.tunable``) to the data PSNR it
asks of the paper's fingerprint (``fingerprint.target_psnr``) before comparing robustness, and reports each
method at its own default strength as well.

:func:`match_psnr` bisects the strength (on a log scale, within the method's ``strength_range``) until the
mean PSNR of the stamped images, quantised to uint8 as files are, is within ``tolerance`` dB of the target.
It assumes the PSNR falls as the strength grows (checked at both ends: a target outside what the method can
reach returns the nearest end, with ``reached`` False).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from fpbench.fingerprint.embedding import to_float
from fpbench.methods.base import FingerprintMethod, MethodError
from fpbench.metrics import psnr

MAX_IMAGES = 2048
ITERATIONS = 40
TOLERANCE = 0.01  # dB: close enough to stop
REACHED = 0.1  # dB: close enough to call the target reached


@dataclass(frozen=True)
class Match:
    strength: float
    psnr: float  # mean PSNR of the images stamped at ``strength``
    default_strength: float
    default_psnr: float  # at the method's own strength
    reached: bool  # False: the target lies outside what the strength range can give


def stamped_psnr(method: FingerprintMethod, images: torch.Tensor, fingerprint: torch.Tensor,
                 strength: float) -> float:
    """Mean PSNR (dB) of ``images`` stamped with ``fingerprint`` at ``strength`` (the method's strength is
    left as it was)."""
    previous = method.strength
    method.strength = strength
    try:
        stamped = method.embed(images, fingerprint)
    finally:
        method.strength = previous
    return float(psnr(to_float(images), to_float(stamped)).mean())


def match_psnr(method: FingerprintMethod, images: torch.Tensor, fingerprint: torch.Tensor, target: float, *,
               max_images: int = MAX_IMAGES, tolerance: float = TOLERANCE) -> Match:
    """The strength at which ``method`` stamps ``images`` (the first ``max_images``) with ``fingerprint``
    (one bit string, or one per image) at a mean PSNR of ``target`` dB. The method is left as it was."""
    if not method.tunable:
        raise MethodError(f"{method.id}: has no strength to tune (tunable is False)")
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 10 <= target <= 80:
        raise MethodError(f"target PSNR must be a number of dB between 10 and 80, got {target!r}")
    x = images[:max_images]
    bits = fingerprint if fingerprint.ndim == 1 else fingerprint[:max_images]
    default = method.strength
    default_psnr = stamped_psnr(method, x, bits, default)
    low, high = method.strength_range
    at_low, at_high = stamped_psnr(method, x, bits, low), stamped_psnr(method, x, bits, high)
    if at_low <= target:  # even the weakest stamp is too visible
        return Match(low, at_low, default, default_psnr, reached=abs(at_low - target) <= REACHED)
    if at_high >= target:  # even the strongest stamp is less visible than asked
        return Match(high, at_high, default, default_psnr, reached=abs(at_high - target) <= REACHED)
    lo, hi = math.log(low), math.log(high)
    best = (math.inf, high, at_high)
    for _ in range(ITERATIONS):
        mid = (lo + hi) / 2
        value = stamped_psnr(method, x, bits, math.exp(mid))
        best = min(best, (abs(value - target), math.exp(mid), value))
        if abs(value - target) <= tolerance:
            break
        lo, hi = (mid, hi) if value > target else (lo, mid)
    gap, strength, value = best
    return Match(strength, value, default, default_psnr, reached=gap <= REACHED)
