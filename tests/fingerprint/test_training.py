"""fpbench.fingerprint.training: reproducibility, resume, the L2 schedule, activation warnings."""

from __future__ import annotations

import warnings

import pytest
import torch

import fpbench.fingerprint.training as training
from fpbench.fingerprint.training import (
    FingerprintTrainConfig,
    TrainingWarning,
    l2_weight_at,
    train_fingerprint,
)

TINY = FingerprintTrainConfig(n_bits=16, resolution=16, steps=30, batch_size=16, lr=1e-3, output="residual",
                              l2_await=5, l2_ramp=10, checkpoint_every=15, seed=7)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    coarse = torch.rand(64, 3, 5, 5, generator=g)
    smooth = torch.nn.functional.interpolate(coarse, size=(16, 16), mode="bilinear", align_corners=False)
    return (smooth * 255).round().to(torch.uint8)


def train_quietly(images, cfg, **kwargs):
    """Train, recording (not raising) TrainingWarnings; returns (result, warning messages)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TrainingWarning)
        result = train_fingerprint(images, cfg, progress=False, **kwargs)
    return result, [str(w.message) for w in caught if issubclass(w.category, TrainingWarning)]


def assert_same_weights(a, b):
    for net in ("encoder", "decoder"):
        sa, sb = getattr(a.models, net).state_dict(), getattr(b.models, net).state_dict()
        assert sa.keys() == sb.keys()
        for k in sa:
            assert torch.equal(sa[k], sb[k]), f"{net}.{k} differs"


class TestTrainingRuns:
    def test_reproducible_from_seed(self, images):
        a, _ = train_quietly(images, TINY)
        b, _ = train_quietly(images, TINY)
        assert_same_weights(a, b)
        assert a.history == b.history and a.activated_at == b.activated_at
        c, _ = train_quietly(images, training.with_overrides(TINY, seed=8))
        assert not torch.equal(a.models.decoder.dense[-1].weight, c.models.decoder.dense[-1].weight)

    def test_resume_after_interruption_matches_uninterrupted(self, images, tmp_path, monkeypatch):
        full, _ = train_quietly(images, TINY)

        class Interrupted(Exception):
            pass

        real = training.l2_weight_at

        def crash_at_step_20(step, activated_at, cfg):
            if step == 20:  # after the checkpoint written at step 15, before the end
                raise Interrupted
            return real(step, activated_at, cfg)

        partial = tmp_path / "partial.pt"
        monkeypatch.setattr(training, "l2_weight_at", crash_at_step_20)
        with pytest.raises(Interrupted):
            train_quietly(images, TINY, resume_path=partial)
        assert partial.exists()
        assert int(torch.load(partial, weights_only=True)["step"]) == 15
        monkeypatch.setattr(training, "l2_weight_at", real)

        resumed, _ = train_quietly(images, TINY, resume_path=partial)
        assert resumed.activated_at == full.activated_at
        assert [h["step"] for h in resumed.history] == [h["step"] for h in full.history]
        assert_same_weights(resumed, full)

    def test_history_follows_schedule(self, images):
        cfg = training.with_overrides(TINY, activation_accuracy=0.0)  # activates at step 0
        result, messages = train_quietly(images, cfg)
        assert result.activated_at == 0 and messages == []
        for h in result.history:
            assert h["l2_weight"] == pytest.approx(l2_weight_at(int(h["step"]), 0, cfg))
        assert result.history[-1]["l2_weight"] == cfg.l2_weight  # step 29 > 0 + 5 + 10: capped

    @pytest.mark.parametrize(("kwargs", "match"), [
        ({"images": torch.zeros(4, 3, 32, 32, dtype=torch.uint8)}, "Nx3x16x16"),
        ({"images": torch.zeros(4, 1, 16, 16, dtype=torch.uint8)}, "Nx3x16x16"),
        ({"images": torch.zeros(4, 3, 16, 16)}, "uint8"),
    ])
    def test_bad_inputs(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            train_fingerprint(kwargs["images"], TINY, progress=False)


class TestActivation:
    def test_never_activated_warns(self, images):
        cfg = training.with_overrides(TINY, steps=6, activation_accuracy=1.0)  # accuracy can never exceed 1
        with pytest.warns(TrainingWarning, match="never switched on"):
            result = train_fingerprint(images, cfg, progress=False)
        assert result.activated_at is None
        assert all(h["l2_weight"] == 0 for h in result.history)

    def test_fallback_activation_step_activates(self, images):
        cfg = training.with_overrides(TINY, steps=8, activation_accuracy=1.0, fallback_activation_step=3,
                                      l2_await=1, l2_ramp=2)
        result, messages = train_quietly(images, cfg)
        assert result.activated_at == 3
        assert len(messages) == 1 and "fallback_activation_step=3" in messages[0]
        assert l2_weight_at(7, result.activated_at, cfg) == cfg.l2_weight

    def test_activation_by_accuracy_needs_no_fallback(self, images):
        cfg = training.with_overrides(TINY, steps=4, activation_accuracy=-1.0, fallback_activation_step=2)
        result, messages = train_quietly(images, cfg)
        assert result.activated_at == 0 and messages == []


class TestL2Schedule:
    CFG = FingerprintTrainConfig(l2_weight=10.0, l2_await=1000, l2_ramp=3000)

    @pytest.mark.parametrize(("step", "activated_at", "want"), [
        (0, None, 0.0),
        (50_000, None, 0.0),  # never activated: never on
        (100, 100, 0.0),  # activation step itself
        (1100, 100, 0.0),  # end of the 1000-step wait
        (1101, 100, 10.0 / 3000),  # first ramp step
        (2600, 100, 5.0),  # half-way up the 3000-step ramp
        (4100, 100, 10.0),  # top of the ramp
        (9999, 100, 10.0),  # capped
    ])
    def test_documented_formula(self, step, activated_at, want):
        assert l2_weight_at(step, activated_at, self.CFG) == pytest.approx(want, rel=1e-12)

    def test_zero_ramp_jumps_to_cap(self):
        cfg = FingerprintTrainConfig(l2_weight=4.0, l2_await=0, l2_ramp=0)
        assert l2_weight_at(10, 10, cfg) == 0.0 and l2_weight_at(11, 10, cfg) == 4.0
