"""evaluate_image_attacks on a toy world with a known decoder (bits = block means)."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import binom
from sklearn.metrics import roc_auc_score

from fpbench.attacks.registry import AttackKind, AttackSpec, get_attack
from fpbench.evaluation import SmallSampleWarning
from fpbench.evaluation.operating_points import auc, empirical_threshold
from fpbench.pipeline.image_robustness import evaluate_image_attacks, image_attack_grid
from fpbench.results import to_frame, validate

from .conftest import BLOCK, N_BITS, decode

FPR = 0.01


def invert_blocks(images: torch.Tensor, fraction: float = 0.0, *, seed: int = 0) -> torch.Tensor:
    """Test attack: invert (1 - x) the first round(fraction * 48) blocks, flipping exactly those bits."""
    out = images.clone()
    for b in range(round(fraction * N_BITS)):
        c, i, j = b // 16, (b % 16) // 4, b % 4
        region = (slice(None), c, slice(i * BLOCK, (i + 1) * BLOCK), slice(j * BLOCK, (j + 1) * BLOCK))
        out[region] = 1 - out[region]
    return out


FLIP = AttackSpec(
    id="invert_blocks", kind=AttackKind.IMAGE, fn=invert_blocks, param="fraction", unit="fraction of bits",
    grid=(0.0, 0.25, 0.5), neutral=0.0, domain=(0.0, 1.0), category="test", version=3,
    differentiable=False, integer=False, description="test only",
)


def evaluate(world, attacks=(), **kwargs):
    sources, fingerprints, clean = world
    rows = evaluate_image_attacks(sources, fingerprints, decode, clean, attacks, progress=False,
                                  fprs=kwargs.pop("fprs", (FPR,)), **kwargs)
    return to_frame(rows)


def value(df: pd.DataFrame, model: str, attack: str, metric: str, severity: int = -1, fpr: float | None = None) -> float:
    """The one value of a measurement; ``fpr`` picks the operating point of the TPR metrics."""
    sel = df[(df.model == model) & (df.attack == attack) & (df.metric == metric) & (df.severity == severity)]
    sel = sel[sel.fpr.isna()] if fpr is None else sel[sel.fpr == fpr]
    assert len(sel) == 1, (model, attack, metric, severity, fpr, len(sel))
    return float(sel.value.iloc[0])


def best_agreement(bits: torch.Tensor, fingerprints: dict) -> np.ndarray:
    fps = np.stack([f.numpy() for f in fingerprints.values()])
    return (bits.numpy()[:, None, :] == fps[None]).sum(2).max(1)


class TestCleanRows:
    def test_perfect_world(self, world):
        df = evaluate(world)
        assert validate(df) == []
        assert set(df.attack) == {"none"} and set(df.severity) == {-1} and df.param.isna().all()
        for model in ("data", "gan_a"):
            for metric in ("bit_accuracy", "pass_rate", "attribution_accuracy", "detection_accuracy", "auc"):
                assert value(df, model, "none", metric) == 1.0, (model, metric)
            for metric in ("tpr_at_fpr", "tpr_at_fpr_analytic"):
                assert value(df, model, "none", metric, fpr=FPR) == 1.0, (model, metric)
        assert not {"psnr", "ssim"} & set(df.metric)

    def test_counts(self, world):
        df = evaluate(world)
        assert value(df, "data", "none", "bit_accuracy") == 1.0
        sel = df[(df.model == "gan_a") & (df.metric == "detection_accuracy")]
        assert int(sel.n.iloc[0]) == 150 + 1000
        assert int(df[(df.model == "gan_a") & (df.metric == "bit_accuracy")].n.iloc[0]) == 150

    def test_no_clean_rows_when_excluded(self, world):
        assert evaluate(world, include_clean=False).empty


class TestAttackRows:
    def test_known_bit_flips(self, world):
        sources, fingerprints, clean = world
        df = evaluate(world, [(FLIP, FLIP.grid)])
        assert validate(df) == []
        assert value(df, "data", "invert_blocks", "bit_accuracy", 1) == pytest.approx(0.75)
        assert value(df, "gan_a", "invert_blocks", "bit_accuracy", 2) == pytest.approx(0.5)
        # 36 of 48 bits: p = P(X >= 36) ~ 2e-4 fails alpha = 1e-6 -> neither passes nor is attributed
        assert value(df, "data", "invert_blocks", "pass_rate", 1) == 0.0
        assert value(df, "data", "invert_blocks", "attribution_accuracy", 1) == 0.0
        assert value(df, "data", "invert_blocks", "detection_accuracy", 1) == 0.5
        # analytic threshold: smallest k with 3 * P(X >= k) < FPR, from scipy
        k_analytic = next(k for k in range(N_BITS + 2) if 3 * binom.sf(k - 1, N_BITS, 0.5) < FPR)
        want = 1.0 if 36 >= k_analytic else 0.0
        assert value(df, "data", "invert_blocks", "tpr_at_fpr_analytic", 1, fpr=FPR) == want
        row = df[(df.attack == "invert_blocks") & (df.severity == 2)].iloc[0]
        assert row.param == 0.5 and row.attack_kind == "image" and row.attack_version == 3

    def test_empirical_tpr_and_auc_against_brute_force(self, world):
        sources, fingerprints, clean = world
        df = evaluate(world, [(FLIP, FLIP.grid)])
        pos = best_agreement(decode(invert_blocks(sources["data"], 0.25)), fingerprints)
        neg = best_agreement(decode(invert_blocks(clean, 0.25)), fingerprints)
        k = min(k for k in range(N_BITS + 2) if (neg >= k).mean() <= FPR)
        assert value(df, "data", "invert_blocks", "tpr_at_fpr", 1, fpr=FPR) == pytest.approx((pos >= k).mean())
        labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        want_auc = roc_auc_score(labels, np.r_[pos, neg])
        assert value(df, "data", "invert_blocks", "auc", 1) == pytest.approx(want_auc)

    def test_quality_rows(self, world):
        df = evaluate(world, [(FLIP, FLIP.grid)], ssim_samples=None)
        assert value(df, "data", "invert_blocks", "psnr", 0) == math.inf
        assert value(df, "data", "invert_blocks", "ssim", 0) == pytest.approx(1.0)
        assert value(df, "data", "invert_blocks", "psnr", 2) < value(df, "data", "invert_blocks", "psnr", 1)

    def test_registered_attacks_by_id_and_severity_order(self, world):
        df = evaluate(world, image_attack_grid(["gaussian_noise", "jpeg"]), include_clean=False)
        assert validate(df) == []
        noise = df[(df.model == "data") & (df.attack == "gaussian_noise") & (df.metric == "bit_accuracy")]
        assert list(noise.severity) == list(range(len(get_attack("gaussian_noise").grid)))
        acc = noise.sort_values("severity").value.tolist()
        assert acc[0] == 1.0 and acc[-1] < 0.995
        assert all(b <= a + 0.005 for a, b in pairwise(acc)), acc
        ssim_n = df[df.metric == "ssim"].groupby("model").n.unique().map(list).to_dict()
        assert ssim_n == {"data": [200], "gan_a": [150]}  # every image by default

    def test_ssim_samples_limits_the_images(self, world):
        df = evaluate(world, [(FLIP, (0.25,))], include_clean=False, ssim_samples=32)
        assert set(df[df.metric == "ssim"].n) == {32} and set(df[df.metric == "psnr"].n) == {200, 150}

    def test_operating_points_in_the_fpr_column(self, world):
        with pytest.warns(SmallSampleWarning, match="at 0.001 is unreliable"):  # 1000 clean images
            df = evaluate(world, [(FLIP, (0.25, 0.5))], fprs=(0.01, 0.001))
        assert validate(df) == []
        tpr = df[df.metric.isin(["tpr_at_fpr", "tpr_at_fpr_analytic"])]
        # per model, metric and level: one row per operating point; param stays the attack strength
        assert len(tpr) == 2 * 2 * 3 * 2 and set(tpr.fpr) == {0.01, 0.001}
        assert set(tpr[tpr.attack == "invert_blocks"].param) == {0.25, 0.5} and tpr[tpr.attack == "none"].param.isna().all()
        assert df[~df.index.isin(tpr.index)].fpr.isna().all()
        # a stricter operating point never gives a higher TPR
        for metric in ("tpr_at_fpr", "tpr_at_fpr_analytic"):
            for severity in (-1, 0, 1):
                strict = value(df, "data", "none" if severity < 0 else "invert_blocks", metric, severity, fpr=0.001)
                loose = value(df, "data", "none" if severity < 0 else "invert_blocks", metric, severity, fpr=0.01)
                assert strict <= loose

    def test_ssim_rows_can_be_skipped(self, world):
        df = evaluate(world, [(FLIP, (0.25,))], include_clean=False, ssim_samples=0)
        assert "psnr" in set(df.metric) and "ssim" not in set(df.metric)

    def test_string_ids_accepted(self, world):
        df = evaluate(world, [("brightness", (1.0, 2.0))], include_clean=False)
        assert set(df.attack) == {"brightness"}


class TestOperatingPoints:
    def test_empirical_threshold_is_conservative(self):
        neg = torch.tensor([10, 20, 20, 30, 40])
        assert empirical_threshold(neg, 0.2, 48) == 31  # exactly one of five negatives at or above
        assert empirical_threshold(neg, 0.0, 48) == 41
        assert empirical_threshold(neg, 0.39, 48) == 31  # ties at 20 cannot be split

    def test_auc_with_ties(self):
        pos, neg = torch.tensor([3, 2, 2]), torch.tensor([2, 1])
        want = roc_auc_score([1, 1, 1, 0, 0], [3, 2, 2, 2, 1])
        assert auc(pos, neg) == pytest.approx(want)


class TestErrors:
    def test_small_clean_set_warns(self, world):
        sources, fingerprints, clean = world
        with pytest.warns(SmallSampleWarning, match="unreliable"):
            evaluate_image_attacks(sources, fingerprints, decode, clean[:50], progress=False, fprs=(0.01,))

    def test_source_without_fingerprint(self, world):
        sources, fingerprints, clean = world
        with pytest.raises(ValueError, match="no fingerprint"):
            evaluate_image_attacks(sources, {"data": fingerprints["data"]}, decode, clean, progress=False,
                                   fprs=(0.01,))

    @pytest.mark.parametrize("fprs", [(0.0,), (1.0,), (0.01, 0.01)])
    def test_bad_fprs(self, world, fprs):
        with pytest.raises(ValueError, match=r"distinct false-positive rates in \(0, 1\)"):
            evaluate(world, fprs=fprs)

    def test_bad_decoder_output(self, world):
        sources, fingerprints, clean = world
        with pytest.raises(ValueError, match="decode returned"):
            evaluate_image_attacks(sources, fingerprints, lambda x: decode(x)[:, :10], clean, progress=False,
                                   fprs=(0.01,))

    def test_model_attack_rejected(self, world):
        model_spec = AttackSpec(**{**FLIP.__dict__, "id": "m", "kind": AttackKind.MODEL})
        with pytest.raises(ValueError, match="only image attacks"):
            evaluate(world, [(model_spec, (0.1,))])

    def test_fingerprints_of_different_lengths(self, world):
        sources, fingerprints, clean = world
        bad = {**fingerprints, "gan_b": torch.ones(10)}
        with pytest.raises(ValueError, match="one length"):
            evaluate_image_attacks(sources, bad, decode, clean, progress=False, fprs=(0.01,))

    def test_bad_images(self, world):
        sources, fingerprints, clean = world
        with pytest.raises(ValueError, match=r"\[0,1\]"):
            evaluate_image_attacks(sources, fingerprints, decode, clean * 2, progress=False, fprs=(0.01,))
