"""Matching decoded bits to registered fingerprints: bit accuracy, binomial p-values, attribution.

Under H0 ("this image carries no fingerprint") every decoded bit agrees with a registered
fingerprint with probability 1/2 independently, so the number k of agreeing bits out of n is
Binomial(n, 1/2) and the one-sided p-value is P(X >= k) = sum_{i>=k} C(n, i) / 2^n, computed exactly
in log space so values like 1e-30 do not underflow.

Decision rule (documented in docs/method.md): an image is "fingerprinted by model m" when its best
matching registered fingerprint has p-value < ``alpha / M`` (Bonferroni over the M registered
fingerprints); otherwise it is "no match" (-1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

NO_MATCH = -1


def bit_accuracy(bits: torch.Tensor, fingerprint: torch.Tensor) -> torch.Tensor:
    """Per-image share of matching bits. ``bits``: Nxn {0,1}; ``fingerprint``: n or Nxn {0,1}."""
    if bits.ndim != 2:
        raise ValueError(f"bits must be N x n_bits, got shape {tuple(bits.shape)}")
    if fingerprint.shape[-1] != bits.shape[1]:
        raise ValueError(
            f"fingerprint has {fingerprint.shape[-1]} bits but the decoded bits have {bits.shape[1]}"
        )
    return (bits.round() == fingerprint.round()).float().mean(1)


def log_binom_sf(k: torch.Tensor | int, n: int) -> torch.Tensor:
    """Natural log of P(X >= k) for X ~ Binomial(n, 1/2), exact, for integer k (tensor or int)."""
    k = torch.as_tensor(k, dtype=torch.float64)
    i = torch.arange(n + 1, dtype=torch.float64)
    log_pmf = torch.lgamma(torch.tensor(n + 1.0, dtype=torch.float64)) - torch.lgamma(i + 1) \
        - torch.lgamma(n - i + 1) - n * math.log(2.0)
    # log of the tail sum from i down to n: reverse cumulative logsumexp
    tail = torch.logcumsumexp(log_pmf.flip(0), 0).flip(0)  # tail[i] = log P(X >= i)
    tail = tail.clamp(max=0.0)  # rounding can put log P(X >= 0) a hair above 0 (a probability > 1)
    tail = torch.cat([tail, torch.tensor([-math.inf], dtype=torch.float64)])  # P(X >= n+1) = 0
    idx = k.clamp(0, n + 1).long()
    return tail[idx]


def p_value(n_correct: torch.Tensor | int, n_bits: int) -> torch.Tensor:
    """One-sided binomial p-value P(X >= n_correct), X ~ Bin(n_bits, 1/2). Tiny values may underflow to
    0 in float64; use :func:`log_binom_sf` when you need them."""
    return log_binom_sf(n_correct, n_bits).exp()


def min_correct_bits(n_bits: int, alpha: float) -> int:
    """Smallest k with P(X >= k) < alpha: the decision threshold in bits (100 bits, 0.05 -> 59)."""
    tail = log_binom_sf(torch.arange(n_bits + 2), n_bits)
    ok = (tail < math.log(alpha)).nonzero()
    return int(ok[0]) if len(ok) else n_bits + 1


@dataclass(frozen=True)
class Attribution:
    """Result of matching N decoded bit strings against M registered fingerprints."""

    best: torch.Tensor  # N int64: index of the best-matching fingerprint
    n_correct: torch.Tensor  # N int64: matching bits with the best fingerprint
    log_p: torch.Tensor  # N float64: log p-value of the best match
    decision: torch.Tensor  # N int64: best index, or NO_MATCH when the p-value fails the threshold


def attribute(bits: torch.Tensor, fingerprints: torch.Tensor, alpha: float = 1e-6) -> Attribution:
    """Attribute each decoded bit string to the registered fingerprint it matches best.

    ``bits``: Nxn {0,1}; ``fingerprints``: Mxn {0,1}. Match when p < alpha / M (Bonferroni)."""
    if fingerprints.ndim == 1:
        fingerprints = fingerprints[None]
    if bits.ndim != 2 or fingerprints.shape[1] != bits.shape[1]:
        raise ValueError(
            f"cannot match decoded bits of shape {tuple(bits.shape)} against fingerprints of shape "
            f"{tuple(fingerprints.shape)}: the fingerprint lengths differ"
        )
    b = bits.round().float()
    f = fingerprints.round().float()
    agree = b @ f.T + (1 - b) @ (1 - f).T  # N x M counts of equal bits
    n_correct, best = agree.max(1)
    n_correct = n_correct.round().long()
    log_p = log_binom_sf(n_correct, bits.shape[1])
    threshold = math.log(alpha / fingerprints.shape[0])
    decision = torch.where(log_p < threshold, best, torch.full_like(best, NO_MATCH))
    return Attribution(best=best, n_correct=n_correct, log_p=log_p, decision=decision)


def is_fingerprinted(bits: torch.Tensor, fingerprint: torch.Tensor, alpha: float = 1e-6) -> torch.Tensor:
    """Per-image decision for ONE registered fingerprint: p-value < alpha."""
    k = (bit_accuracy(bits, fingerprint) * bits.shape[1]).round().long()
    return log_binom_sf(k, bits.shape[1]) < math.log(alpha)
