"""The baseline stage on a tiny hand-made context: three random-init generators (two DCGAN instances and
one ResNet), uniform-noise "real" images, and a decoder that reads the fingerprint from the first pixel
row, so the fingerprint's open-world rows have known values."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_curve
from torch import nn

from fpbench.cache import ArtifactCache
from fpbench.evaluation.operating_points import tpr_at_fpr
from fpbench.fingerprint.checkpoint import FingerprintModels
from fpbench.fingerprint.embedding import random_fingerprint, to_uint8
from fpbench.generators import GanConfig, build, sample
from fpbench.pipeline.config import ConfigError
from fpbench.pipeline.presets import get_preset
from fpbench.pipeline.stages.baselines import immunise, open_split, run_baselines
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.data import RealImages
from fpbench.pipeline.stages.generators import Zoo
from fpbench.pipeline.stages.image_attacks import attack_grids
from fpbench.pipeline.validate import config_problems
from fpbench.results import to_frame, validate

RES, N_BITS, N = 16, 16, 24
ARCHS = {"dcgan-s1": "dcgan", "dcgan-s2": "dcgan", "resnet-s1": "resnet"}
STAMPED = ("dcgan-s1", "dcgan-s2")  # resnet-s1's samples do not carry its fingerprint


class RowDecoder(nn.Module):
    """Reads bit i as 'red pixel (0, i) > 0.5'; logits Nxn_bits."""

    n_bits, resolution = N_BITS, RES

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0, 0, :N_BITS] - 0.5


def make_zoo() -> Zoo:
    fingerprints = {"data": random_fingerprint(N_BITS, 42)}
    generators, configs, samples = {}, {}, {}
    for seed, (g, arch) in enumerate(ARCHS.items()):
        torch.manual_seed(seed)
        generators[g] = build(arch, RES, 8, 4)[0].eval()
        configs[g] = GanConfig(arch=arch, resolution=RES, latent_dim=8, width=4, steps=1, seed=seed)
        fingerprints[g] = random_fingerprint(N_BITS, 100 + seed)
        images = to_uint8(sample(generators[g], N, seed=1))
        if g in STAMPED:
            images[:, 0, 0, :N_BITS] = fingerprints[g].to(torch.uint8) * 255
        samples[g] = images
    return Zoo(fingerprints, generators, configs, samples, clean_ids=[])


def make_real() -> RealImages:
    gen = torch.Generator().manual_seed(7)
    train, test = (torch.randint(0, 256, (N, 3, RES, RES), dtype=torch.uint8, generator=gen) for _ in range(2))
    return RealImages(train, test, test[:0], "noise", test)


PRESET = get_preset("smoke").updated({
    "name": "tiny", "data": {"resolution": RES}, "fingerprint": {"resolution": RES, "n_bits": N_BITS},
    "zoo": {"generators": []}, "image_attacks": {"attacks": ["gaussian_noise", "jpeg"]},
    "evaluation": {"alpha": 1e-3, "grids": {"gaussian_noise": [0.0, 0.1], "jpeg": [50]}},
    "baselines": {"methods": ["frank2020", "wang2020", "yu2019"], "train_per_class": N, "epochs": 1,
                  "unseen": ["dcgan-s2", "resnet-s1"], "attacks": ["gaussian_noise", "jpeg"],
                  "attack_methods": ["frank2020"], "attack_samples": 8, "immunised": True},
})


def _baselines(**changes) -> object:
    return PRESET.updated({"baselines": changes})


def run(tmp_path, preset=PRESET, zoo=None, cache_dir="cache", judge=False) -> tuple[RunContext, object]:
    """The stage on the tiny world. Its CNNs train one epoch on 24 images per class, too little to learn:
    unless ``judge``, they keep no validation split, so they are not judged (and dropped) as at chance."""
    import fpbench.pipeline.stages.baselines as stage

    ctx = RunContext(preset=preset, cache=ArtifactCache(tmp_path / cache_dir), out=tmp_path, progress=False)
    models = FingerprintModels(encoder=None, decoder=RowDecoder())
    make = stage.make_estimator

    def unjudged(baseline_id, ctx, method=None):
        clf = make(baseline_id, ctx, method)
        return clf.set_params(validation_fraction=0.0) if "validation_fraction" in clf.get_params() else clf

    with pytest.MonkeyPatch.context() as mp:
        if not judge:
            mp.setattr(stage, "make_estimator", unjudged)
        run_baselines(ctx, models, make_real(), zoo or make_zoo())
    return ctx, to_frame(ctx.rows)


@pytest.fixture(scope="module")
def cold(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("baselines")
    ctx, df = run(tmp)
    return tmp, ctx, df


class TestRows:
    def test_valid(self, cold):
        _, _, df = cold
        assert validate(df) == []
        assert len(df) > 0 and (df["n"] > 0).all()

    @pytest.mark.parametrize("method", ["frank2020", "wang2020", "yu2019"])
    def test_closed_world_every_generator_and_zoo(self, cold, method):
        _, _, df = cold
        clean = df[(df["method"] == method) & (df["world"] == "closed") & (df["attack"] == "none")]
        assert set(clean["model"]) == {*ARCHS, "zoo"}
        metrics = set(clean["metric"])
        assert {"detection_accuracy", "auc", "tpr_at_fpr"} <= metrics
        assert ("attribution_accuracy" in metrics) == (method != "wang2020")  # wang2020: real/fake only
        operating_point = "fpr" if "fpr" in df.columns else "param"  # the schema's FPR column, else param
        assert (clean.loc[clean["metric"] == "tpr_at_fpr", operating_point] == 0.01).all()
        assert clean["value"].between(0, 1).all()

    @pytest.mark.parametrize("method", ["frank2020", "wang2020", "yu2019"])
    def test_open_world_unseen_only(self, cold, method):
        _, _, df = cold
        opened = df[(df["method"] == method) & (df["world"] == "open")]
        assert set(opened["model"]) == {"dcgan-s2", "resnet-s1"}
        attributed = set(opened.loc[opened["metric"] == "attribution_accuracy", "model"])
        # dcgan-s2 has a seen sibling (dcgan-s1); resnet-s1 is an unseen architecture: detection only
        assert attributed == (set() if method == "wang2020" else {"dcgan-s2"})

    def test_separable_classes_are_learned(self, cold):
        _, _, df = cold
        clean = df[(df["method"] == "frank2020") & (df["world"] == "closed") & (df["attack"] == "none")]
        values = clean.set_index(["model", "metric"])["value"]
        assert values[("zoo", "detection_accuracy")] >= 0.9
        assert values[("zoo", "auc")] >= 0.9

    def test_fingerprint_open_world_rows_are_computed(self, cold):
        _, _, df = cold
        fp = df[df["method"] == "artificial_fingerprint"]
        assert set(fp["world"]) == {"open"}
        values = fp.set_index(["model", "metric"])["value"]
        # dcgan-s2's samples carry its fingerprint, resnet-s1's do not: the numbers follow the samples
        assert values[("dcgan-s2", "attribution_accuracy")] == 1.0
        assert values[("resnet-s1", "attribution_accuracy")] < 0.5
        assert values[("dcgan-s2", "detection_accuracy")] > values[("resnet-s1", "detection_accuracy")]

    def test_attack_grid_rows(self, cold):
        _, _, df = cold
        attacked = df[df["attack"] != "none"]
        assert set(attacked["method"]) == {"frank2020", "frank2020+immunised"}
        assert set(attacked["attack_kind"]) == {"image"} and set(attacked["world"]) == {"closed"}
        assert set(attacked["metric"]) == {"detection_accuracy", "attribution_accuracy"}
        noise = attacked[attacked["attack"] == "gaussian_noise"]
        assert sorted(set(zip(noise["severity"], noise["param"], strict=True))) == [(0, 0.0), (1, 0.1)]
        assert set(attacked["model"]) == set(ARCHS)
        assert (attacked.loc[attacked["metric"] == "attribution_accuracy", "n"] == 8).all()

    def test_immunised_is_closed_world_only(self, cold):
        _, _, df = cold
        assert set(df.loc[df["method"] == "frank2020+immunised", "world"]) == {"closed"}


class TestCache:
    def test_warm_rerun_reuses_every_frame(self, cold):
        tmp, ctx, df = cold
        warm_ctx, warm = run(tmp)
        assert not [m for m in warm_ctx.cache.misses if m.startswith("baselines/")]
        assert len(warm_ctx.cache.hits) == len(ctx.cache.misses)
        pd.testing.assert_frame_equal(warm, df, rtol=1e-8)  # the cache stores 10 significant digits

    def test_changed_settings_miss(self, cold):
        tmp, _, _ = cold
        other, _ = run(tmp, _baselines(attack_samples=6))
        assert len(other.cache.misses) == 2  # the grid's baselines (frank2020, +immunised); the rest hit
        assert len(other.cache.hits) == 3

    def test_a_baselines_own_budget_misses_only_its_frame(self, cold):
        tmp, _, _ = cold
        other, _ = run(tmp, _baselines(epochs_by_method={"wang2020": 2}))
        assert [m.split("/")[0] for m in other.cache.misses] == ["baselines"] and len(other.cache.hits) == 4


class TestChecks:
    def test_unknown_unseen_generator(self, tmp_path):
        with pytest.raises(ValueError, match="not in the zoo"):
            run(tmp_path, _baselines(unseen=["dcgan-s9"]))

    def test_all_unseen(self):
        with pytest.raises(ValueError, match="at least one seen"):
            open_split(make_zoo(), tuple(ARCHS))

    def test_attack_method_must_be_a_baseline(self, tmp_path):
        with pytest.raises(ValueError, match="baselines.attack_methods"):
            run(tmp_path, _baselines(attack_methods=["marra2019"]))

    def test_attack_must_be_on_the_fingerprint_grid(self, tmp_path):
        with pytest.raises(ValueError, match="image_attacks"):
            run(tmp_path, _baselines(attacks=["gaussian_blur"]))

    def test_typo_in_baseline_id(self, tmp_path):
        with pytest.raises(Exception, match="frank2020"):
            run(tmp_path, _baselines(methods=["frank2021"]))

    @pytest.mark.parametrize(("budgets", "message"), [
        ({"yu2091": 40}, r"'yu2091' is not a baseline\. Did you mean 'yu2019'\?"),
        ({"marra2019": 40}, r"'marra2019' is not a baseline of this run.*or drop the entry"),
        ({"wang2020+immunised": 40}, r"'wang2020\+immunised' is not a baseline of this run"),
    ])
    def test_unknown_epoch_budget_is_refused_naming_the_fix(self, tmp_path, budgets, message):
        preset = _baselines(epochs_by_method=budgets)
        problems = [p for p in config_problems(preset) if "epochs_by_method" in p]  # the tiny zoo is not in it
        assert len(problems) == 1 and re.search(message, problems[0])
        assert "Set it for one of frank2020, wang2020, yu2019, frank2020+immunised" in problems[0]
        with pytest.raises(ValueError, match=message):  # the stage refuses it too, for callers without a check
            run(tmp_path, preset)

    @pytest.mark.parametrize("budgets", [{"yu2019": 0}, {"yu2019": -3}])
    def test_an_epoch_budget_below_one_is_refused(self, budgets):
        with pytest.raises(ConfigError, match="epochs_by_method must be >= 1"):
            _baselines(epochs_by_method=budgets)

    def test_budget_lookup(self):
        budgets = _baselines(epochs=20, epochs_by_method={"yu2019": 40, "frank2020+immunised": 5}).baselines
        assert budgets.epochs_by_method == {"yu2019": 40, "frank2020+immunised": 5}
        with pytest.raises(TypeError, match="read-only"):
            budgets.epochs_by_method["wang2020"] = 3  # type: ignore[index]
        # its own entry, else its baseline's (an immunised variant inherits), else epochs
        assert [budgets.epochs_of(m) for m in ("yu2019", "yu2019+immunised", "wang2020", "frank2020+immunised")] \
            == [40, 40, 20, 5]

    def test_no_baselines_no_rows(self, tmp_path):
        ctx, df = run(tmp_path, _baselines(methods=[], attacks=[], attack_methods=[]))
        assert df.empty and not ctx.cache.misses


class TestHelpers:
    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_tpr_at_fpr_matches_roc_curve(self, seed):
        rng = np.random.default_rng(seed)
        pos, neg = rng.normal(2, 1, 300), rng.normal(0, 1, 500)
        fpr, tpr, _ = roc_curve(np.r_[np.ones(300), np.zeros(500)], np.r_[pos, neg])
        assert math.isclose(tpr_at_fpr(pos, neg, 0.01), tpr[fpr <= 0.01].max())

    def test_tpr_at_fpr_is_conservative_with_ties(self):
        neg = np.r_[np.zeros(98), np.ones(2)]  # 2% of negatives tie at the top
        assert tpr_at_fpr(np.ones(10), neg, 0.01) == 0.0  # no threshold reaches 1% FPR without them

    def test_immunise(self):
        ctx = RunContext(preset=PRESET, cache=ArtifactCache(enabled=False), out=None, progress=False)
        grids = attack_grids(ctx, ("gaussian_noise",))
        images = torch.rand(400, 3, RES, RES)
        out = immunise(images, grids, seed=3)
        assert out.shape == images.shape and 0 <= float(out.min()) and float(out.max()) <= 1
        changed = (out != images).flatten(1).any(1).float().mean()
        # half kept; of the attacked half, the std 0 level is the identity: ~1/4 change
        assert 0.15 < float(changed) < 0.35
        assert torch.equal(out, immunise(images, grids, seed=3))


def test_a_baseline_that_does_not_learn_is_flagged_and_left_out(tmp_path, monkeypatch):
    """Issue 22: a CNN whose learning rate is too small to move it stays at chance on its validation split;
    the run warns, naming it, and reports no rows for it."""
    import fpbench.pipeline.stages.baselines as stage
    from fpbench.baselines.yu2019 import Yu2019
    from fpbench.warnings import FpbenchWarning

    frozen = lambda baseline_id, ctx, method=None: Yu2019(epochs=2, learning_rate=1e-12, random_state=0)  # noqa: E731
    monkeypatch.setattr(stage, "make_estimator", frozen)
    preset = _baselines(methods=["yu2019"], unseen=[], attack_methods=[], immunised=False)
    with pytest.warns(FpbenchWarning, match=r"baseline yu2019/closed did not learn: validation accuracy"):
        ctx, df = run(tmp_path, preset, judge=True)
    assert "yu2019" not in set(df["method"])
    record = ctx.notes["baseline_training"]["yu2019/closed"]
    assert record["learned"] is False and record["epochs"] == 2 and len(record["val_accuracy"]) == 2
    # a rerun from the cache warns again and records the same fit
    with pytest.warns(FpbenchWarning, match="did not learn"):
        ctx2, df2 = run(tmp_path, preset, judge=True)
    assert ctx2.notes["baseline_training"] == ctx.notes["baseline_training"] and df2.empty == df.empty


@pytest.mark.filterwarnings("ignore:baseline .* did not learn")
def test_no_test_image_reaches_a_baselines_training_or_validation(tmp_path, monkeypatch):
    """Issue 22: every training set a baseline is fitted on (its validation split is carved out of it) holds
    none of the real test images nor any evaluated generator sample; the built-in photos are split by photo."""
    import fpbench.pipeline.stages.baselines as stage
    from fpbench.data.builtin import SPLITS

    fitted: list[torch.Tensor] = []
    original = stage.make_estimator

    def recording(baseline_id, ctx, method=None):
        clf = original(baseline_id, ctx, method)
        fit = clf.fit

        def fit_and_record(X, y):
            fitted.append(torch.as_tensor(X))
            return fit(X, y)

        clf.fit = fit_and_record
        return clf

    monkeypatch.setattr(stage, "make_estimator", recording)
    zoo, real = make_zoo(), make_real()
    ctx = RunContext(preset=PRESET, cache=ArtifactCache(tmp_path / "cache"), out=tmp_path, progress=False)
    run_baselines(ctx, FingerprintModels(encoder=None, decoder=RowDecoder()), real, zoo)
    assert len(fitted) >= 4  # every baseline, both worlds, the immunised variant

    def as_bytes(images: torch.Tensor) -> set[bytes]:
        images = images if images.dtype == torch.uint8 else (images * 255).round().to(torch.uint8)
        return {bytes(x.numpy().tobytes()) for x in images}

    tested = as_bytes(real.test) | set().union(*(as_bytes(s) for s in zoo.samples.values()))
    for X in fitted:
        assert not as_bytes(X) & tested
    assert not set(SPLITS["train"]) & set(SPLITS["test"])  # built-in: test crops come from other photos


@pytest.mark.filterwarnings("ignore:baseline .* did not learn")
def test_each_baseline_trains_on_its_own_epoch_budget(tmp_path):
    """``baselines.epochs_by_method`` over ``baselines.epochs``: each fit gets its method's budget (an
    immunised variant its own entry, else its baseline's), and the manifest's records say so."""
    preset = _baselines(methods=["wang2020", "yu2019"], epochs=1, attack_methods=["yu2019"],
                        epochs_by_method={"yu2019": 3, "yu2019+immunised": 2})
    ctx, _ = run(tmp_path, preset, judge=True)
    records = ctx.notes["baseline_training"]
    budgets = {name: record["budget_epochs"] for name, record in records.items()}
    assert budgets == {"wang2020/closed": 1, "wang2020/open": 1, "yu2019/closed": 3, "yu2019/open": 3,
                       "yu2019+immunised/closed": 2}
    # patience 5 exceeds every budget here: each fit ran its whole budget
    assert all(record["epochs"] == record["budget_epochs"] for record in records.values())
