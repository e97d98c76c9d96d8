"""Detection operating points on integer match scores: empirical and analytic thresholds, TPR, AUC.

A score is the number of decoded bits that agree with the best-matching registered fingerprint
(``matching.attribute(...).n_correct``), an integer in [0, n_bits]; an image is called fingerprinted
when its score reaches a threshold ``k``.
"""

from __future__ import annotations

import math

import torch

from fpbench.fingerprint.matching import min_correct_bits
from fpbench.warnings import FpbenchWarning

# Below this many expected false positives among the clean images (n_clean * fpr), an empirical
# threshold is set by a handful of extreme scores and its TPR is unreliable: warn.
MIN_EXPECTED_FALSE_POSITIVES = 10


class SmallSampleWarning(FpbenchWarning):
    """Too few clean images to estimate an operating point at the requested false-positive rate."""


def empirical_threshold(negative_scores: torch.Tensor, fpr: float, n_bits: int) -> int:
    """Smallest integer ``k`` whose share of negatives with score >= k is at most ``fpr``.

    Conservative: with discrete scores the achieved FPR on the negatives is <= ``fpr`` (ties are never
    split at random). With no negatives the threshold is ``n_bits + 1`` (nothing is called positive).
    """
    if negative_scores.numel() == 0:
        return n_bits + 1
    counts = torch.bincount(negative_scores.long().clamp(0, n_bits + 1), minlength=n_bits + 2).double()
    share_at_or_above = counts.flip(0).cumsum(0).flip(0) / negative_scores.numel()  # index k: P(score >= k)
    return int((share_at_or_above <= fpr).nonzero()[0])


def analytic_threshold(n_bits: int, fpr: float, n_fingerprints: int) -> int:
    """Smallest ``k`` with ``M * P(X >= k) < fpr``, X ~ Bin(n_bits, 1/2): under "not fingerprinted" the
    best of M fingerprint matches reaches k with probability < fpr (union bound, as in
    ``matching.attribute``'s Bonferroni rule)."""
    return min_correct_bits(n_bits, fpr / max(1, n_fingerprints))


def tpr_at_fpr(positive_scores, negative_scores, fpr: float) -> float:
    """The one TPR@FPR of fpbench, for match counts and classifier scores alike (torch or numpy, any real
    scores; higher = more likely positive): the share of positives scoring above the threshold that at
    most ``floor(fpr * n_negatives)`` negatives exceed. Conservative with ties: a tie group straddling the
    threshold is called negative whole, so the achieved FPR on the negatives is <= ``fpr``. With integer
    scores this is the TPR at :func:`empirical_threshold`. NaN without positives; 0 without negatives."""
    pos = torch.as_tensor(positive_scores, dtype=torch.float64).flatten()
    neg = torch.as_tensor(negative_scores, dtype=torch.float64).flatten()
    if pos.numel() == 0:
        return math.nan
    if neg.numel() == 0:
        return 0.0
    allowed = math.floor(fpr * neg.numel() + 1e-9)
    threshold = torch.sort(neg, descending=True).values[allowed]
    return float((pos > threshold).double().mean())


def rate_at_or_above(scores: torch.Tensor, k: int) -> float:
    return float((scores >= k).double().mean()) if scores.numel() else math.nan


def auc(positive_scores: torch.Tensor, negative_scores: torch.Tensor) -> float:
    """Area under the ROC curve: P(pos > neg) + P(pos == neg) / 2 (Mann-Whitney), exact for ties."""
    if positive_scores.numel() == 0 or negative_scores.numel() == 0:
        return math.nan
    pos, neg = positive_scores.double(), negative_scores.double()
    values = torch.unique(torch.cat([pos, neg]))
    pos_hist = (pos[:, None] == values[None, :]).double().sum(0)
    neg_hist = (neg[:, None] == values[None, :]).double().sum(0)
    neg_below = torch.cumsum(neg_hist, 0) - neg_hist
    wins = (pos_hist * (neg_below + 0.5 * neg_hist)).sum()
    return float(wins / (pos.numel() * neg.numel()))


def binomial_stderr(rate: float, n: int) -> float:
    return math.sqrt(rate * (1 - rate) / n) if n > 0 and not math.isnan(rate) else math.nan
