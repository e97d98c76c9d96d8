"""The one measurement path: decoded bits -> result rows, used by every stage of a run.

Given the bits decoded from one source's images, the registered fingerprints (ids and bits; the source's
own among them), optionally the bits decoded from negatives (unfingerprinted images, attacked the same
way) and the operating points, :func:`match_rows` returns the source's rows, each with ``n`` = its
number of images unless said:

- ``bit_accuracy`` (mean, stderr) and ``p_value`` / ``log10_p_value`` (median) against the own
  fingerprint; ``pass_rate``: own-fingerprint p < alpha;
- ``attribution_accuracy``: ``matching.attribute`` (Bonferroni over the M registered) picks the own
  fingerprint; "no match" counts as wrong;
- with negatives: ``detection_accuracy`` (balanced accuracy of "matches some registered fingerprint",
  ``n`` = positives + negatives), ``auc`` of the best-match score, and per operating point
  ``tpr_at_fpr`` (threshold from the negatives, :func:`operating_points.tpr_at_fpr`) and
  ``tpr_at_fpr_analytic`` (binomial threshold), their FPR in the ``fpr`` column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from fpbench.evaluation.operating_points import (
    analytic_threshold,
    auc,
    binomial_stderr,
    rate_at_or_above,
    tpr_at_fpr,
)
from fpbench.fingerprint.matching import NO_MATCH, Attribution, attribute, log_binom_sf
from fpbench.results import Row, row

FPRS: tuple[float, ...] = (0.01, 0.001)  # default operating points (false-positive rates)
TPR_EMPIRICAL = "tpr_at_fpr"  # threshold from the negatives
TPR_ANALYTIC = "tpr_at_fpr_analytic"  # binomial threshold, Bonferroni over M


def mean_stderr(values: torch.Tensor) -> tuple[float, float]:
    """Mean and its standard error (NaN with one value or a non-finite one)."""
    values = values.double()
    n = values.numel()
    if n == 0:
        return math.nan, math.nan
    mean = float(values.mean())
    stderr = float(values.std() / math.sqrt(n)) if n > 1 and bool(torch.isfinite(values).all()) else math.nan
    return mean, stderr


class Registered:
    """The registered fingerprints of a run: ids in order and their bits (M x n_bits {0,1})."""

    def __init__(self, fingerprints: Mapping[str, torch.Tensor]) -> None:
        if not fingerprints:
            raise ValueError("no registered fingerprints: register at least one model's fingerprint")
        self.ids = list(fingerprints)
        flat = [torch.as_tensor(fingerprints[m]).float().flatten().cpu() for m in self.ids]
        if len({f.numel() for f in flat}) != 1 or not all(((f == 0) | (f == 1)).all() for f in flat):
            raise ValueError("fingerprints must be {0,1} tensors of one length, got lengths "
                             f"{ {m: f.numel() for m, f in zip(self.ids, flat, strict=True)} }")
        self.bits = torch.stack(flat)

    @property
    def n_bits(self) -> int:
        return self.bits.shape[1]

    def index(self, model: str) -> int:
        if model not in self.ids:
            raise ValueError(f"{model!r} has no registered fingerprint; registered: {self.ids}")
        return self.ids.index(model)

    def attribute(self, bits: torch.Tensor, alpha: float) -> Attribution:
        return attribute(bits, self.bits, alpha)


DECISION_METRICS = ("attribution_accuracy", "detection_accuracy", "auc", TPR_EMPIRICAL, TPR_ANALYTIC)


def match_rows(bits: torch.Tensor, *, model: str, registered: Registered, alpha: float, method: str, seed: int,
               negatives: Attribution | None = None, fprs: Sequence[float] = FPRS, world: str = "",
               where: Mapping[str, object] | None = None) -> list[Row]:
    """The rows of one source (module docstring). ``bits``: N x n_bits {0,1} decoded from the source's
    images; ``negatives``: ``registered.attribute(negative_bits, alpha)`` (computed once per negative set
    and shared by every source); ``world``: set on the rows that depend on the registered set
    (:data:`DECISION_METRICS`); ``where``: the attack fields of the rows (``attack``, ``param``, ...)."""
    where = dict(where or {})
    n, n_bits = bits.shape
    if n == 0:
        raise ValueError(f"source {model!r} has no images")
    own = registered.index(model)
    agree = (bits.round() == registered.bits[own]).double().sum(1)
    log_p = log_binom_sf(agree.long(), n_bits)
    passed = float((log_p < math.log(alpha)).double().mean())
    positives = registered.attribute(bits, alpha)
    attributed = float((positives.decision == own).double().mean())
    median_log_p = float(log_p.median())
    acc, acc_se = mean_stderr(agree / n_bits)
    common = dict(method=method, model=model, seed=seed, **where)
    decided = dict(common, world=world)
    rows = [
        row(metric="bit_accuracy", value=acc, stderr=acc_se, n=n, **common),
        row(metric="p_value", value=math.exp(median_log_p), n=n, **common),
        row(metric="log10_p_value", value=median_log_p / math.log(10), n=n, **common),
        row(metric="pass_rate", value=passed, stderr=binomial_stderr(passed, n), n=n, **common),
        row(metric="attribution_accuracy", value=attributed, stderr=binomial_stderr(attributed, n), n=n, **decided),
    ]
    if negatives is None:
        return rows
    n_neg = len(negatives.decision)
    tpr = float((positives.decision != NO_MATCH).double().mean())
    tnr = float((negatives.decision == NO_MATCH).double().mean()) if n_neg else math.nan
    detection_se = math.sqrt(binomial_stderr(tpr, n) ** 2 + binomial_stderr(tnr, n_neg) ** 2) / 2
    rows += [row(metric="detection_accuracy", value=(tpr + tnr) / 2, stderr=detection_se, n=n + n_neg, **decided),
             row(metric="auc", value=auc(positives.n_correct, negatives.n_correct), n=n + n_neg, **decided)]
    m = len(registered.ids)
    for fpr in fprs:
        for metric, rate in ((TPR_EMPIRICAL, tpr_at_fpr(positives.n_correct, negatives.n_correct, fpr)),
                             (TPR_ANALYTIC, rate_at_or_above(positives.n_correct, analytic_threshold(n_bits, fpr, m)))):
            rows.append(row(metric=metric, value=rate, stderr=binomial_stderr(rate, n), n=n, fpr=fpr, **decided))
    return rows


def fingerprint_rows(bits: torch.Tensor, fingerprint: torch.Tensor, *, model: str, alpha: float, method: str,
                     seed: int, where: Mapping[str, object] | None = None) -> list[Row]:
    """The rows of :func:`match_rows` that need only the source's own fingerprint: bit accuracy, p-values
    and pass rate (for measurements made before or without a registry of fingerprints)."""
    rows = match_rows(bits, model=model, registered=Registered({model: fingerprint}), alpha=alpha, method=method,
                      seed=seed, where=where)
    return [r for r in rows if r.metric not in DECISION_METRICS]

