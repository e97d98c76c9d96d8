"""Every cached artifact is keyed by what it consumes: change any upstream input and every stage below
it misses the cache; change nothing and every stage hits.

One tiny preset runs end to end (all stage kinds) into one shared cache; each test changes one input and
reads which stages missed (``ArtifactCache.misses`` entries are ``stage/key``).
"""

from __future__ import annotations

import dataclasses

import pytest

import fpbench.pipeline.stages.context
import fpbench.pipeline.stages.image_attacks
from fpbench.attacks.registry import get_attack
from fpbench.cache import ArtifactCache
from fpbench.pipeline.config import (
    AdaptiveConfig,
    BaselineConfig,
    EvaluationConfig,
    ImageAttackConfig,
    ModelAttackConfig,
    ZooConfig,
)
from fpbench.pipeline.presets import GeneratorPlan, get_preset
from fpbench.pipeline.runner import run

MEASUREMENTS = {"image_attacks", "model_attack", "baselines", "adaptive"}


def tiny_preset():
    smoke = get_preset("smoke")
    fp = dataclasses.replace(smoke.fingerprint, steps=4, l2_await=1, l2_ramp=2, checkpoint_every=0, target_psnr=None)
    adversary = dataclasses.replace(smoke.adaptive.adversary, steps=2)
    plans = (GeneratorPlan("g-a", "dcgan", 0, steps=2, width=8, latent_dim=16, batch_size=8),
             GeneratorPlan("g-b", "dcgan", 1, steps=2, width=8, latent_dim=16, batch_size=8),
             GeneratorPlan("g-clean", "dcgan", 0, fingerprinted=False, steps=2, width=8, latent_dim=16, batch_size=8))
    return dataclasses.replace(
        smoke, fingerprint=fp,
        data=dataclasses.replace(smoke.data, n_train=48, n_test=24, n_holdout=24),
        zoo=ZooConfig(generators=plans, n_samples=16),
        image_attacks=ImageAttackConfig(attacks=("jpeg",), samples=8),
        model_attacks=ModelAttackConfig(attacks=("weight_noise",), targets=("g-a",)),
        baselines=BaselineConfig(methods=("frank2020",), train_per_class=16),
        adaptive=AdaptiveConfig(attacks=("overwrite",), samples=8, detect_test=8, autoencoder_steps=2,
                                adversary=adversary),
        evaluation=EvaluationConfig(alpha=smoke.alpha, grids={"jpeg": (50,), "weight_noise": (0.1,), "overwrite": (1.0,)}))


def stages_missed(preset, cache_dir, out) -> set[str]:
    cache = ArtifactCache(cache_dir)
    run(preset, out, cache=cache, progress=False)
    return {entry.split("/")[0] for entry in cache.misses}


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("cache")
    cold = stages_missed(tiny_preset(), cache_dir, tmp_path_factory.mktemp("cold"))
    assert {"data", "fingerprint", "stamped", "generator", "adversary"} | MEASUREMENTS <= cold
    return cache_dir


def test_nothing_changed_hits_everywhere(warm_cache, tmp_path):
    assert stages_missed(tiny_preset(), warm_cache, tmp_path) == set()


@pytest.mark.parametrize("change, missed, kept", [
    # the data: everything trained or measured on it
    (lambda p: p.updated({"data": {"n_train": 40}}),
     {"data", "fingerprint", "stamped", "generator", "adversary"} | MEASUREMENTS, set()),
    # the fingerprint config (decoder hardening): the codec, its stamped sets, the fingerprinted generators
    # and every measurement; the adversary trains on the holdout photos only and is kept
    (lambda p: dataclasses.replace(p, fingerprint=dataclasses.replace(p.fingerprint, hardening_steps=2)),
     {"fingerprint", "stamped", "generator"} | MEASUREMENTS, {"adversary"}),
    # one generator's plan: that generator and every measurement over the zoo; the codec is kept
    (lambda p: dataclasses.replace(p, zoo=dataclasses.replace(p.zoo, generators=(
        dataclasses.replace(p.zoo.generators[0], steps=3), *p.zoo.generators[1:]))),
     {"generator"} | MEASUREMENTS, {"fingerprint", "stamped", "adversary"}),
    # the preset's version: everything but the built-in crops, a pure function of their own config
    (lambda p: dataclasses.replace(p, version=p.version + 1),
     {"fingerprint", "stamped", "generator", "adversary"} | MEASUREMENTS, set()),
])
def test_an_upstream_change_misses_below_it(warm_cache, tmp_path, change, missed, kept):
    got = stages_missed(change(tiny_preset()), warm_cache, tmp_path)
    assert missed <= got, f"stale artifacts reused: {sorted(missed - got)}"
    assert not kept & got, f"recomputed without cause: {sorted(kept & got)}"


def test_another_decoder_and_generator_never_reuse_model_attack_rows(warm_cache, tmp_path):
    """The bug this guards: the model-attack key listed the generator's config and fingerprint but not its
    weights nor the decoder, so another codec in the same cache got the old rows back."""
    preset = tiny_preset()
    other = dataclasses.replace(preset, fingerprint=dataclasses.replace(preset.fingerprint, seed=1234))
    cache = ArtifactCache(warm_cache)
    run(other, tmp_path, cache=cache, progress=False)
    assert any(m.startswith("model_attack/") for m in cache.misses)


def test_fid_extractor_change_misses_every_measurement(warm_cache, tmp_path, monkeypatch):
    # another extractor (or other Inception weights) changes the FID inside cached measurement rows
    monkeypatch.setattr(fpbench.pipeline.stages.context, "extractor_key", lambda extractor: f"{extractor}:other-weights")
    got = stages_missed(tiny_preset(), warm_cache, tmp_path)
    assert MEASUREMENTS <= got and not {"fingerprint", "generator", "stamped", "adversary"} & got


def test_attack_version_change_misses_that_stage(warm_cache, tmp_path, monkeypatch):
    jpeg = get_attack("jpeg")
    newer = dataclasses.replace(jpeg, version=jpeg.version + 1)
    monkeypatch.setattr(fpbench.pipeline.stages.image_attacks, "get_attack",
                        lambda attack_id: newer if attack_id == "jpeg" else get_attack(attack_id))
    got = stages_missed(tiny_preset(), warm_cache, tmp_path)
    assert "image_attacks" in got and not {"fingerprint", "generator", "stamped", "model_attack"} & got


def test_a_data_folder_is_keyed_by_its_content(tmp_path):
    import numpy as np
    from PIL import Image

    from fpbench.pipeline.stages.context import RunContext
    from fpbench.pipeline.stages.data import load_real_images

    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")

    def key() -> str:
        ctx = RunContext(preset=tiny_preset(), cache=ArtifactCache(tmp_path / "cache"), out=tmp_path / "out",
                         data_dir=folder, progress=False)
        return load_real_images(ctx).key

    first = key()
    assert key() == first
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / "3.png")
    assert key() != first
