"""Detectability classifiers: near-perfect on an easy planted signal, chance on identical classes."""

from __future__ import annotations

import math

import pytest
import torch

from fpbench.attacks.adaptive.detectability import (
    SRM_KERNELS,
    amplitude_spectrum,
    srm_features,
    srm_residuals,
)
from fpbench.attacks.context import AttackContext
from fpbench.attacks.registry import get_attack
from fpbench.pipeline.stages.adaptive import auc_stderr, detection_scores_rows


def _planted(helpers, n: int, seed: int) -> torch.Tensor:
    x = helpers.smooth(n, seed)
    checker = ((torch.arange(16)[:, None] + torch.arange(16)[None]) % 2).float() * 2 - 1
    return (x + 4 / 255 * checker).clamp(0, 1)


def _accuracy(scores: torch.Tensor, labels: torch.Tensor) -> float:
    return float(((scores > 0.5).float() == labels).float().mean())


@pytest.mark.parametrize("attack_id", ["detectability_srm", "detectability_cnn"])
class TestDetectors:
    def test_easy_planted_signal_is_found(self, attack_id, helpers):
        spec = get_attack(attack_id)
        clean_pool = helpers.smooth(64, 11)
        marked_pool = _planted(helpers, 64, 12)
        test = torch.cat([_planted(helpers, 40, 13), helpers.smooth(40, 14)])
        labels = torch.cat([torch.ones(40), torch.zeros(40)])
        scores = spec(test, 64, seed=0, context=AttackContext(marked=marked_pool, clean=clean_pool, cnn_steps=60))
        assert scores.shape == (80,) and float(scores.min()) >= 0 and float(scores.max()) <= 1
        assert _accuracy(scores, labels) >= 0.95

    def test_identical_classes_are_chance(self, attack_id, helpers):
        spec = get_attack(attack_id)
        pool = helpers.smooth(128, 21)
        test = helpers.smooth(200, 22)
        labels = (torch.arange(200) % 2).float()  # arbitrary labels on one distribution
        scores = spec(test, 64, seed=0, context=AttackContext(marked=pool[:64], clean=pool[64:], cnn_steps=60))
        assert abs(_accuracy(scores, labels) - 0.5) < 0.15

    def test_reproducible_and_inputs_untouched(self, attack_id, helpers):
        spec = get_attack(attack_id)
        marked, clean, test = _planted(helpers, 16, 1), helpers.smooth(16, 2), helpers.smooth(10, 3)
        copies = [t.clone() for t in (marked, clean, test)]
        a = spec(test, 8, seed=4, context=AttackContext(marked=marked, clean=clean, cnn_steps=10))
        b = spec(test, 8, seed=4, context=AttackContext(marked=marked, clean=clean, cnn_steps=10))
        assert torch.equal(a, b)
        assert all(torch.equal(x, y) for x, y in zip((marked, clean, test), copies, strict=True))

    def test_training_set_larger_than_the_pool(self, attack_id, helpers):
        with pytest.raises(ValueError, match="holds only 4"):
            get_attack(attack_id)(helpers.smooth(2, 0), 5, seed=0, marked=helpers.smooth(4, 1),
                                  clean=helpers.smooth(8, 2))


class TestFeatures:
    def test_residual_of_a_constant_image_is_zero(self):
        r = srm_residuals(torch.full((2, 3, 16, 16), 0.4))
        assert r.shape == (2, len(SRM_KERNELS), 3, 16, 16)
        assert float(r.abs().max()) < 1e-4

    def test_uint8_and_float_inputs_agree(self, helpers):
        x = (helpers.smooth(3, 0) * 255).round().to(torch.uint8)
        assert (srm_features(x) == srm_features(x.float() / 255)).all()

    def test_spectrum_of_a_checkerboard_sits_at_nyquist(self):
        checker = ((torch.arange(8)[:, None] + torch.arange(8)[None]) % 2).float()
        spec = amplitude_spectrum(checker.expand(2, 3, 8, 8))
        assert spec.shape == (8, 8)
        assert float(spec[4, 4]) == pytest.approx(32.0)  # DC (centred): the sum of the image
        assert float(spec[0, 0]) == pytest.approx(32.0)  # the (Nyquist, Nyquist) checkerboard term
        assert float(spec.sum()) == pytest.approx(64.0)  # nothing else


class TestScoresRows:
    def test_perfect_and_chance(self):
        labels = torch.tensor([1.0, 1, 0, 0])
        rows = {r.metric: r for r in detection_scores_rows(torch.tensor([0.9, 0.8, 0.1, 0.2]), labels, method="m",
                                                            model="data", attack="detectability_srm",
                                                            attack_kind="adaptive", param=4.0, severity=0)}
        assert rows["detection_accuracy"].value == 1.0 and rows["auc"].value == 1.0

    def test_hanley_mcneil(self):
        # AUC 0.5 with 50/50: var = (0.25 + 49 (1/3 - 1/4) + 49 (1/3 - 1/4)) / 2500
        assert auc_stderr(0.5, 50, 50) == pytest.approx(math.sqrt((0.25 + 98 / 12) / 2500))
