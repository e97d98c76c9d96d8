"""Robustness of fingerprints to image attacks: walk an attack grid, decode, match, emit tidy rows.

For every attack x grid value (severity = index in the grid) and every source model, the attacked
fingerprinted images are decoded and matched against all registered fingerprints; the unfingerprinted
``clean`` images, attacked the same way, are the negatives. Rows (``bench.results.Row``), each with
``n`` = number of source images unless said:

- ``bit_accuracy`` (mean, stderr), ``log10_p_value`` (median, own fingerprint), ``pass_rate``
  (own-fingerprint p < alpha), ``attribution_accuracy`` (``matching.attribute`` picks this model;
  "no match" counts as wrong);
- ``detection_accuracy``: balanced accuracy of "matches some registered fingerprint" (p < alpha / M)
  on attacked source vs attacked clean images (``n`` = both); ``auc`` of the best-match score;
- ``tpr_at_fpr``: TPR with the empirical threshold from the attacked clean images, and
  ``tpr_at_fpr_analytic`` with the binomial threshold (Bonferroni over the M registered fingerprints);
  one row per operating point in ``fprs``, its false-positive rate in the ``fpr`` column (``param``
  holds the attack strength);
- ``psnr``, ``ssim`` of attacked vs unattacked source images (attack rows only; a neutral value gives
  PSNR = inf). SSIM uses every image by default (``ssim_samples`` limits it to the first ones of each
  source; ``n`` says how many): ``bench.metrics.ssim`` costs ~0.35 s per 1000 32x32 images on one CPU
  thread.

The clean measurement (``attack="none"``, ``severity=-1``) comes first, once per call
(``include_clean=False`` drops it, e.g. when a grid is evaluated in several calls).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from tqdm.auto import tqdm

from attacks.image._checks import check_images
from attacks.registry import ATTACKS, AttackKind, AttackSpec, get_attack, load_all
from bench.evaluation.operating_points import (
    MIN_EXPECTED_FALSE_POSITIVES,
    SmallSampleWarning,
    analytic_threshold,
    auc,
    binomial_stderr,
    empirical_threshold,
    rate_at_or_above,
)
from bench.fingerprint.matching import NO_MATCH, Attribution, attribute, log_binom_sf
from bench.metrics import psnr, ssim
from bench.results import Row, row

FPRS: tuple[float, ...] = (0.01, 0.001)  # default operating points (false-positive rates)
TPR_EMPIRICAL = "tpr_at_fpr"  # threshold from the attacked clean images
TPR_ANALYTIC = "tpr_at_fpr_analytic"  # binomial threshold, Bonferroni over M
DECODE_BATCH = 512
Decoder = Callable[[torch.Tensor], torch.Tensor]


def image_attack_grid(attack_ids: Iterable[str] | None = None) -> list[tuple[AttackSpec, tuple[float, ...]]]:
    """(spec, default grid) for the given image attack ids, or for every registered image attack."""
    load_all()
    ids = list(attack_ids) if attack_ids is not None else \
        [i for i, s in ATTACKS.items() if s.kind is AttackKind.IMAGE]
    return [(spec, spec.grid) for spec in (get_attack(i) for i in ids)]


def _check_attack(spec: AttackSpec | str) -> AttackSpec:
    spec = get_attack(spec) if isinstance(spec, str) else spec
    if spec.kind is not AttackKind.IMAGE:
        raise ValueError(f"attack {spec.id!r} is a {spec.kind.value} attack; only image attacks apply here")
    return spec


def _decode(decode: Decoder, images: torch.Tensor, n_bits: int) -> torch.Tensor:
    with torch.no_grad():
        parts = [decode(images[i:i + DECODE_BATCH]) for i in range(0, len(images), DECODE_BATCH)]
    bits = torch.cat(parts) if parts else torch.zeros(0, n_bits)
    if bits.shape != (len(images), n_bits):
        raise ValueError(f"decode returned bits of shape {tuple(bits.shape)}, expected {(len(images), n_bits)}")
    return bits.round().float().cpu()


@dataclass(frozen=True)
class _Level:
    """One grid point: attack spec (None = the clean measurement), value, severity."""

    spec: AttackSpec | None
    value: float
    severity: int

    @property
    def is_identity(self) -> bool:
        return self.spec is None or (self.spec.neutral is not None and self.value == self.spec.neutral)

    def apply(self, images: torch.Tensor, seed: int) -> torch.Tensor:
        return images if self.is_identity else self.spec(images, self.value, seed=seed)

    def row_fields(self) -> dict:
        if self.spec is None:
            return {"attack": "none", "attack_kind": "none"}
        return {"attack": self.spec.id, "attack_kind": "image", "param": float(self.value),
                "severity": self.severity, "attack_version": self.spec.version}


def evaluate_image_attacks(
    sources: dict[str, torch.Tensor],
    fingerprints: dict[str, torch.Tensor],
    decode: Decoder,
    clean: torch.Tensor,
    attacks: Sequence[tuple[AttackSpec | str, Sequence[float]]] = (),
    *,
    alpha: float = 1e-6,
    seed: int = 0,
    method: str = "artificial_fingerprint",
    progress: bool = True,
    include_clean: bool = True,
    fprs: Sequence[float] = FPRS,
    ssim_samples: int | None = None,
) -> list[Row]:
    """Evaluate fingerprint robustness over an image-attack grid; returns tidy result rows.

    ``sources``: model id -> Bx3xHxW float images in [0,1] carrying that model's fingerprint;
    ``fingerprints``: model id -> n_bits {0,1} tensor, every registered fingerprint (a superset of the
    sources' models; attribution chooses among all of them); ``decode``: Nx3xHxW -> Nxn_bits {0,1};
    ``clean``: unfingerprinted real images (the negatives); ``attacks``: (spec or id, grid) pairs, e.g.
    :func:`image_attack_grid`; empty gives only the clean rows. Attacks use ``seed`` for sources and
    clean images alike. ``fprs``: operating points, false-positive rates in (0, 1), one ``tpr_at_fpr`` and
    one ``tpr_at_fpr_analytic`` row each; ``ssim_samples``: images per source for SSIM (None = all, the
    default; 0 = no SSIM rows). Warns (:class:`SmallSampleWarning`) when ``len(clean) * fpr`` is below
    ``MIN_EXPECTED_FALSE_POSITIVES``.

    >>> rows = evaluate_image_attacks({"data": x}, {"data": fp}, decoder, clean,
    ...                               image_attack_grid(["jpeg"]), progress=False)  # doctest: +SKIP
    """
    if not fingerprints:
        raise ValueError("fingerprints is empty: register at least one model's fingerprint")
    models = list(fingerprints)
    flat = [torch.as_tensor(fingerprints[m]).float().flatten().cpu() for m in models]
    if len({f.numel() for f in flat}) != 1 or not all(((f == 0) | (f == 1)).all() for f in flat):
        raise ValueError("fingerprints must be {0,1} tensors of one length, got lengths "
                         f"{ {m: f.numel() for m, f in zip(models, flat, strict=True)} }")
    registered = torch.stack(flat)
    n_bits = registered.shape[1]
    if ssim_samples is not None and ssim_samples < 0:
        raise ValueError(f"ssim_samples must be None (all images) or >= 0, got {ssim_samples}")
    unknown = sorted(set(sources) - set(models))
    if unknown:
        raise ValueError(f"sources {unknown} have no fingerprint; registered: {models}")
    for name, images in {**sources, "clean": clean}.items():
        check_images(images, f"evaluate_image_attacks({name})")
    fprs = tuple(float(f) for f in fprs)
    if not all(0 < f < 1 for f in fprs) or len(set(fprs)) != len(fprs):
        raise ValueError(f"fprs must be distinct false-positive rates in (0, 1), got {fprs}")
    for fpr in fprs:
        if len(clean) * fpr < MIN_EXPECTED_FALSE_POSITIVES:
            warnings.warn(
                f"{len(clean)} clean images give {len(clean) * fpr:g} expected false positives at FPR {fpr:g} "
                f"(fewer than {MIN_EXPECTED_FALSE_POSITIVES}): the empirical {TPR_EMPIRICAL} at {fpr:g} is unreliable; "
                f"use >= {math.ceil(MIN_EXPECTED_FALSE_POSITIVES / fpr)} clean images or the analytic threshold",
                SmallSampleWarning, stacklevel=2,
            )
    analytic = {fpr: analytic_threshold(n_bits, fpr, len(models)) for fpr in fprs}

    levels = [_Level(None, math.nan, -1)] if include_clean else []
    for spec, grid in attacks:
        spec = _check_attack(spec)
        levels += [_Level(spec, v, i) for i, v in enumerate(spec.check_grid(grid))]

    unattacked_bits: dict[tuple[str, str], torch.Tensor] = {}  # decoded once, reused at neutral values

    def bits_of(level: _Level, key: tuple[str, str], images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if level.is_identity:
            if key not in unattacked_bits:
                unattacked_bits[key] = _decode(decode, images, n_bits)
            return images, unattacked_bits[key]
        attacked = level.apply(images, seed)
        return attacked, _decode(decode, attacked, n_bits)

    rows: list[Row] = []
    bar = tqdm(levels, desc="image attacks", unit="level", disable=not progress)
    for level in bar:
        if level.spec is not None:
            bar.set_postfix_str(f"{level.spec.id}={level.value:g}")
        _, clean_bits = bits_of(level, ("clean", ""), clean)
        negatives = attribute(clean_bits, registered, alpha)
        thresholds = {fpr: empirical_threshold(negatives.n_correct, fpr, n_bits) for fpr in fprs}
        for model, images in sources.items():
            attacked, bits = bits_of(level, ("source", model), images)
            positives = attribute(bits, registered, alpha)
            own = models.index(model)
            measured = _match_values(bits, registered[own], positives, negatives, own, alpha)
            for fpr in fprs:
                for metric_id, k in ((TPR_EMPIRICAL, thresholds[fpr]), (TPR_ANALYTIC, analytic[fpr])):
                    tpr = rate_at_or_above(positives.n_correct, k)
                    measured.append(_Value(metric_id, tpr, binomial_stderr(tpr, len(images)), len(images), fpr))
            if level.spec is not None:
                measured += _quality_values(attacked, images, ssim_samples)
            rows += [row(method=method, model=model, metric=v.metric, value=v.value, stderr=v.stderr, n=v.n,
                         fpr=v.fpr, seed=seed, **level.row_fields()) for v in measured]
    return rows


class _Value(NamedTuple):
    """One measured number before it becomes a row; ``fpr`` only for the TPR metrics."""

    metric: str
    value: float
    stderr: float
    n: int
    fpr: float = math.nan


Measured = list[_Value]


def _mean_stderr(values: torch.Tensor) -> tuple[float, float]:
    values = values.double()
    n = values.numel()
    if n == 0:
        return math.nan, math.nan
    mean = float(values.mean())
    finite = torch.isfinite(values).all()
    stderr = float(values.std() / math.sqrt(n)) if n > 1 and finite else math.nan
    return mean, stderr


def _match_values(bits: torch.Tensor, own_fp: torch.Tensor, positives: Attribution,
                  negatives: Attribution, own: int, alpha: float) -> Measured:
    n, n_bits = bits.shape
    n_neg = len(negatives.decision)
    if n == 0:
        raise ValueError("a source has no images")
    agree = (bits == own_fp).double().sum(1)
    log_p = log_binom_sf(agree.long(), n_bits)
    passed = float((log_p < math.log(alpha)).double().mean())
    attributed = float((positives.decision == own).double().mean())
    tpr = float((positives.decision != NO_MATCH).double().mean())
    tnr = float((negatives.decision == NO_MATCH).double().mean()) if n_neg else math.nan
    detection_se = math.sqrt(binomial_stderr(tpr, n) ** 2 + binomial_stderr(tnr, n_neg) ** 2) / 2
    return [
        _Value("bit_accuracy", *_mean_stderr(agree / n_bits), n),
        _Value("log10_p_value", float(log_p.median() / math.log(10)), math.nan, n),
        _Value("pass_rate", passed, binomial_stderr(passed, n), n),
        _Value("attribution_accuracy", attributed, binomial_stderr(attributed, n), n),
        _Value("detection_accuracy", (tpr + tnr) / 2, detection_se, n + n_neg),
        _Value("auc", auc(positives.n_correct, negatives.n_correct), math.nan, n + n_neg),
    ]


def _quality_values(attacked: torch.Tensor, original: torch.Tensor, ssim_samples: int | None) -> Measured:
    n = len(original)
    m = n if ssim_samples is None else min(n, ssim_samples)
    measured = [_Value("psnr", *_mean_stderr(psnr(attacked, original)), n)]
    if m > 0:
        measured.append(_Value("ssim", *_mean_stderr(ssim(attacked[:m], original[:m])), m))
    return measured
