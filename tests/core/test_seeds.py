"""Seeds: ``with_seed`` moves every seed-dependent config and nothing else, presets are immutable, a
run leaves the caller's RNG alone, and a multi-seed run writes per-seed and aggregate rows."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy import stats

from fpbench.pipeline.presets import PRESETS, get_preset
from fpbench.results import AGGREGATE_SEED, IDENTITY, row, to_frame
from fpbench.seeds import aggregate_over_seeds


class TestWithSeed:
    def test_seed_zero_is_the_preset_as_defined(self):
        quick = get_preset("quick")
        assert quick.with_seed(0) == dataclasses.replace(quick, seeds=(0,))

    def test_another_seed_moves_every_training_seed_but_not_the_data(self):
        quick = get_preset("quick")
        other = quick.with_seed(2)
        assert other.seed == 2 and other.data.seed == quick.data.seed
        assert other.fingerprint.seed != quick.fingerprint.seed
        assert other.adaptive.adversary.seed != quick.adaptive.adversary.seed
        old = {p.id: p.seed for p in quick.zoo.generators}
        new = {p.id: p.seed for p in other.zoo.generators}
        assert all(new[g] != old[g] for g in old)
        assert len(set(new.values()) | set(old.values())) == len(set(old.values())) * 2  # no seed reused

    @pytest.mark.parametrize("seeds", [(), (1, 1), (-1,)])
    def test_bad_seeds_are_refused(self, seeds):
        with pytest.raises(ValueError, match="seeds"):
            get_preset("smoke").with_seeds(seeds)


def test_presets_are_immutable():
    smoke = PRESETS.get("smoke")
    with pytest.raises(TypeError, match="read-only"):
        smoke.evaluation.grids["jpeg"] = (5,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        smoke.seed = 3
    assert PRESETS.get("smoke").evaluation.grids["jpeg"] == (90.0, 50.0)


def test_training_leaves_the_global_rng_alone():
    from fpbench.fingerprint.training import FingerprintTrainConfig, train_fingerprint

    images = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    cfg = FingerprintTrainConfig(n_bits=8, resolution=16, steps=2, batch_size=4, checkpoint_every=0)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    import warnings

    from fpbench.fingerprint.training import TrainingWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)
        train_fingerprint(images, cfg, progress=False)
    assert torch.equal(torch.get_rng_state(), before)


def _rows(seed: int, value: float, metric: str = "bit_accuracy", n: int = 100):
    return row(method="m", model="g", metric=metric, value=value, n=n, seed=seed, stderr=0.01)


class TestAggregate:
    def test_mean_and_t_interval_over_seeds(self):
        values = [0.91, 0.95, 0.96]
        df = to_frame([_rows(s, v) for s, v in enumerate(values)] + [_rows(0, 0.5, "pass_rate")])
        (agg,) = aggregate_over_seeds(df)  # pass_rate has one seed only: no aggregate
        assert agg.seed == AGGREGATE_SEED and agg.n == 300
        assert agg.value == pytest.approx(np.mean(values))
        low, high = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
        assert (agg.ci_low, agg.ci_high) == (pytest.approx(low), pytest.approx(min(high, 1.0)))

    def test_nan_params_group_together(self):
        df = to_frame([_rows(0, 0.9), _rows(1, 0.8)])
        assert df["param"].isna().all()
        (agg,) = aggregate_over_seeds(df)
        assert math.isnan(agg.param) and agg.value == pytest.approx(0.85)


def test_a_two_seed_run_writes_per_seed_and_aggregate_rows(tmp_path):
    from fpbench.cache import ArtifactCache
    from fpbench.pipeline.runner import run
    from tests.stages.test_cache_keys import tiny_preset

    preset = tiny_preset().updated({"image_attacks": {"attacks": []}, "model_attacks": {"attacks": []},
                                    "baselines": {"methods": []}, "adaptive": {"attacks": []}, "seeds": [0, 1],
                                    "evaluation": {"grids": {"jpeg": None, "weight_noise": None, "overwrite": None}}})
    df = run(preset, tmp_path / "out", cache=ArtifactCache(tmp_path / "cache"), progress=False).results
    assert set(df["seed"]) == {0, 1, AGGREGATE_SEED}
    per_seed = df[df["seed"] != AGGREGATE_SEED]
    key = list(IDENTITY)
    agg = df[df["seed"] == AGGREGATE_SEED].fillna({"param": -1.0, "fpr": -1.0})
    means = per_seed.fillna({"param": -1.0, "fpr": -1.0}).groupby(key)["value"].mean().rename("mean").reset_index()
    joined = agg.merge(means, on=key)
    assert len(joined) == len(agg) > 0 and np.allclose(joined["value"], joined["mean"], equal_nan=True)
    # the two seeds trained different codecs: their data rows differ
    data = per_seed[(per_seed["model"] == "data") & (per_seed["metric"] == "psnr")]
    assert data["value"].nunique() == 2
