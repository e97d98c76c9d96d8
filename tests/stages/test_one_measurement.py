"""One measurement path: the clean rows of a run and the rows of a neutral attack (noise of std 0) on the
same images and negatives are the same numbers, to the last bit."""

from __future__ import annotations

import math

import pytest
import torch

from fpbench.cache import ArtifactCache
from fpbench.evaluation.measure import Registered, match_rows
from fpbench.evaluation.operating_points import empirical_threshold, rate_at_or_above, tpr_at_fpr
from fpbench.pipeline.runner import run
from tests.stages.test_cache_keys import tiny_preset


def test_clean_rows_equal_a_neutral_attack(tmp_path):
    preset = tiny_preset().updated({
        "image_attacks": {"attacks": ["gaussian_noise"], "samples": 24}, "model_attacks": {"attacks": []},
        "baselines": {"methods": []}, "adaptive": {"attacks": []}, "evaluation": {"grids": {"gaussian_noise": [0.0], "jpeg": None, "weight_noise": None, "overwrite": None}}})
    assert preset.image_attacks.samples >= max(preset.data.n_test, preset.zoo.n_samples)
    df = run(preset, tmp_path / "out", cache=ArtifactCache(tmp_path / "cache"), progress=False).results
    key = ["model", "metric", "fpr"]
    clean = df[df["attack"] == "none"].fillna({"fpr": -1.0}).set_index(key)["value"]
    neutral = df[df["attack"] == "gaussian_noise"].fillna({"fpr": -1.0}).set_index(key)["value"]
    shared = clean.index.intersection(neutral.index)
    # psnr/ssim differ by design: the clean rows measure the stamp (vs the photo), attack rows the attack
    shared = shared[~shared.get_level_values("metric").isin(["psnr", "ssim"])]
    metrics = set(shared.get_level_values("metric"))
    assert {"bit_accuracy", "pass_rate", "attribution_accuracy", "detection_accuracy", "auc", "tpr_at_fpr"} <= metrics
    assert set(shared.get_level_values("model")) == {"data", "g-a", "g-b"}
    assert (clean[shared] == neutral[shared]).all(), (clean[shared] - neutral[shared]).abs().max()


@pytest.mark.parametrize("seed", range(5))
def test_one_tpr_at_fpr_for_counts_equals_the_integer_threshold(seed):
    gen = torch.Generator().manual_seed(seed)
    neg, pos = torch.randint(0, 17, (300,), generator=gen), torch.randint(5, 17, (200,), generator=gen)
    for fpr in (0.001, 0.01, 0.05, 0.3):
        assert tpr_at_fpr(pos, neg, fpr) == rate_at_or_above(pos, empirical_threshold(neg, fpr, 16))


def test_match_rows_against_a_hand_made_world():
    """Three registered 8-bit fingerprints; 4 images of model b decode with 0, 1, 1 and 4 bits flipped."""
    fps = {"a": torch.tensor([0, 0, 0, 0, 1, 1, 1, 1.]), "b": torch.tensor([1, 0, 1, 0, 1, 0, 1, 0.]),
           "c": torch.tensor([1, 1, 1, 1, 1, 1, 1, 1.])}
    b = fps["b"]
    flip = lambda x, idx: torch.where(torch.isin(torch.arange(8), torch.tensor(idx)), 1 - x, x)  # noqa: E731
    bits = torch.stack([b, flip(b, [0]), flip(b, [7]), flip(b, [0, 1, 2, 3])])
    negatives = Registered(fps).attribute(torch.stack([1 - b, fps["a"]]), alpha=0.05)
    rows = {(r.metric, r.fpr if not math.isnan(r.fpr) else None): r.value for r in
            match_rows(bits, model="b", registered=Registered(fps), alpha=0.05, method="m", seed=0,
                       negatives=negatives, fprs=(0.5,))}
    assert rows[("bit_accuracy", None)] == pytest.approx((8 + 7 + 7 + 4) / 32)
    # P(X >= 8) = 1/256 < 0.05 / 3 passes; P(X >= 7) = 9/256 = 0.035 passes alpha but not alpha / 3
    assert rows[("pass_rate", None)] == 0.75
    assert rows[("attribution_accuracy", None)] == 0.25
    # negatives: 1 - b matches nothing better than 4 bits; "a" matches itself (8 bits): a false detection
    assert rows[("detection_accuracy", None)] == pytest.approx((0.25 + 0.5) / 2)
