"""Robustness of fingerprints to image attacks: walk an attack grid, decode, match, emit tidy rows.

For every attack x grid value (severity = index in the grid) and every source model, the attacked
fingerprinted images are decoded and matched against all registered fingerprints; the unfingerprinted
``clean`` images, attacked the same way, are the negatives. The fingerprint rows come from the one
measurement path, :func:`fpbench.evaluation.measure.match_rows` (bit accuracy, p-values, pass rate,
attribution, detection, AUC, TPR at each operating point in ``fprs``); besides them:

- ``psnr``, ``ssim`` of attacked vs unattacked source images (attack rows only; a neutral value gives
  PSNR = inf). SSIM uses every image by default (``ssim_samples`` limits it to the first ones of each
  source; ``n`` says how many): ``fpbench.metrics.ssim`` costs ~0.35 s per 1000 32x32 images on one CPU
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

from fpbench.attacks.image._checks import check_images
from fpbench.attacks.registry import ATTACKS, AttackKind, AttackSpec, get_attack, load_all
from fpbench.evaluation.measure import FPRS, TPR_EMPIRICAL, Registered, match_rows, mean_stderr
from fpbench.evaluation.operating_points import MIN_EXPECTED_FALSE_POSITIVES, SmallSampleWarning
from fpbench.metrics import psnr, ssim
from fpbench.results import Row, row

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
    reg = Registered(fingerprints)
    n_bits = reg.n_bits
    if ssim_samples is not None and ssim_samples < 0:
        raise ValueError(f"ssim_samples must be None (all images) or >= 0, got {ssim_samples}")
    unknown = sorted(set(sources) - set(reg.ids))
    if unknown:
        raise ValueError(f"sources {unknown} have no fingerprint; registered: {reg.ids}")
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
        negatives = reg.attribute(clean_bits, alpha)
        for model, images in sources.items():
            attacked, bits = bits_of(level, ("source", model), images)
            rows += match_rows(bits, model=model, registered=reg, alpha=alpha, method=method, seed=seed,
                               negatives=negatives, fprs=fprs, where=level.row_fields())
            if level.spec is not None:
                rows += [row(method=method, model=model, metric=v.metric, value=v.value, stderr=v.stderr, n=v.n,
                             seed=seed, **level.row_fields()) for v in _quality_values(attacked, images, ssim_samples)]
    return rows


class _Value(NamedTuple):
    """One measured number before it becomes a row; ``fpr`` only for the TPR metrics."""

    metric: str
    value: float
    stderr: float
    n: int
    fpr: float = math.nan


Measured = list[_Value]


def _quality_values(attacked: torch.Tensor, original: torch.Tensor, ssim_samples: int | None) -> Measured:
    n = len(original)
    m = n if ssim_samples is None else min(n, ssim_samples)
    measured = [_Value("psnr", *mean_stderr(psnr(attacked, original)), n)]
    if m > 0:
        measured.append(_Value("ssim", *mean_stderr(ssim(attacked[:m], original[:m])), m))
    return measured
