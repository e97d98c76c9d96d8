"""A folder too small for a run's stages is refused right after the data stage, before anything trains,
with messages that name the stage, what it needs, what the data holds and the fix
(``fpbench.pipeline.validate.data_problems``); sample counts the test images only cap are warnings."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from fpbench.cache import ArtifactCache
from fpbench.data.folder import split_folder
from fpbench.pipeline.config import ConfigError
from fpbench.pipeline.presets import PRESETS, get_preset
from fpbench.pipeline.runner import run
from fpbench.pipeline.stages.data import folder_sizes
from fpbench.pipeline.validate import (
    config_problems,
    data_needs,
    data_problems,
    data_shortfalls,
    folder_images,
    sample_problems,
)

POOL_ATTACKS = ("averaging", "forgery_surrogate", "forgery_copy", "detectability_srm", "detectability_cnn")


def users_preset():
    """The paper preset as the user shrank it: step counts cut, every sample count and grid the paper's."""
    return get_preset("paper").updated({"fingerprint": {"steps": 200}, "adaptive": {"autoencoder_steps": 20,
                                        "adversary": {"steps": 200}, "pgd_steps": 5, "cnn_steps": 20}})


def photo_folder(root, n: int, side: int = 128):
    """``n`` PNG files of ``side`` px (blocky noise: small files, quick to write)."""
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        blocks = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        blocks.resize((side, side), Image.NEAREST).save(root / f"{i:04d}.png")
    return root


class TestTheUsersFolder:
    def test_fails_after_the_data_stage_before_anything_trains(self, tmp_path):
        """360 photos at 128 px split 288/36/36: the adversary's 36 held-out photos cannot feed averaging's
        grid (the user's run found out in the adaptive stage, 21 minutes in)."""
        cache = tmp_path / "cache"
        with pytest.raises(ConfigError) as err:
            run(users_preset(), tmp_path / "out", data_dir=photo_folder(tmp_path / "photos", 360),
                cache=ArtifactCache(cache), progress=False)
        message = str(err.value)
        assert "adaptive: averaging draws up to 512 images" in message and "which hold 36" in message, message
        assert "lower evaluation.grids.averaging to at most 36" in message
        assert f"give a folder of at least {folder_images(holdout=512)} images" in message
        assert re.search(r"in all, a folder of at least \d+ images feeds this run .* this one gave 360", message)
        assert not (cache / "fingerprint").exists() and not (cache / "generator").exists()
        manifest = json.loads((tmp_path / "out" / "partial" / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["status"] == "failed" and list(manifest["stage_seconds"]) == ["data"]

    def test_every_stage_that_would_run_short_is_named(self):
        problems = data_problems(users_preset(), 288, 36, 36, folder=True)
        for attack_id in POOL_ATTACKS:
            assert any(p.startswith(f"adaptive: {attack_id} draws up to") for p in problems), attack_id
        baselines = next(p for p in problems if p.startswith("baselines:"))
        assert "5000 real images" in baselines and "which hold 288" in baselines
        assert "lower baselines.train_per_class to at most 288" in baselines
        # the folder that would feed it all: 4096 held-out photos for the detectors' largest training set
        assert problems[-1].startswith(f"in all, a folder of at least {folder_images(holdout=4096)} images")


class TestFolderSizes:
    @pytest.mark.parametrize("n", [2, 3, 4, 9, 10, 11, 15, 25, 59, 60, 360, 1001])
    def test_match_the_data_stage_split(self, n):
        images = torch.arange(n)
        train, rest = split_folder(images, 0.2, seed=0)
        test, holdout = split_folder(rest, 0.5, seed=1) if len(rest) >= 2 else (rest, rest[:0])
        assert folder_sizes(n) == (len(train), len(test), len(holdout))

    @pytest.mark.parametrize("needed", [{"holdout": 36}, {"holdout": 512}, {"train": 5000}, {"test": 2},
                                        {"train": 100, "holdout": 100}])
    def test_folder_images_is_the_smallest_folder(self, needed):
        n = folder_images(**needed)
        splits = ("train", "test", "holdout")
        fits = lambda m: all(h >= needed.get(s, 0) for h, s in zip(folder_sizes(m), splits, strict=True))  # noqa: E731
        assert fits(n) and not fits(n - 1)


def tiny(**changes):
    """The smoke preset (built-in photos) with ``changes`` merged in."""
    return get_preset("smoke").updated(changes)


class TestNeeds:
    def test_the_shipped_presets_fit_their_built_in_photos(self):
        for name in ("smoke", "quick"):
            p = PRESETS.get(name)
            counts = (p.data.n_train, p.data.n_test, p.data.n_holdout)
            assert data_problems(p, *counts, folder=False) == [] and data_shortfalls(p, p.data.n_test) == [], name

    def test_built_in_photos_are_fixed_by_their_counts(self):
        problems = data_problems(tiny(), 512, 128, 20, folder=False)
        assert "adaptive: averaging draws up to 32 images (n_samples, evaluation.grids.averaging) from the " \
               "held-out images, which hold 20: lower evaluation.grids.averaging to at most 20, or raise " \
               "data.n_holdout to 32" in problems

    def test_baselines_need_a_full_real_class(self):
        problems = data_problems(tiny(), 40, 128, 64)
        assert problems == ["baselines: each baseline trains on 64 real images (baselines.train_per_class, as many "
                            "as of each generator) from the training images, which hold 40: lower "
                            "baselines.train_per_class to at most 40, or give more images"]

    def test_no_adversary_without_held_out_images(self):
        problems = data_problems(tiny(), 512, 128, 0, folder=True)
        first = next(p for p in problems if "adversary" in p)
        assert first.startswith("adaptive: the adversary trains its own models on at least 1 image")
        assert "drop adaptive.attacks" in first
        assert not any("to at most 0" in p for p in problems)  # no grid can be lowered to an empty pool

    def test_at_least_two_training_and_test_images(self):
        problems = data_problems(tiny(adaptive={"attacks": []}, baselines={"methods": []}), 1, 1, 0)
        assert [p.split(" from ")[0] for p in problems] == ["data: every run needs at least 2 images",
                                                            "data: FID (a covariance) needs at least 2 images"]

    def test_the_attacked_generator_keeps_samples_for_the_adversary(self):
        # no attack draws from the pool, yet the stage still splits the samples: it failed in the adaptive stage
        p = tiny(adaptive={"attacks": ["overwrite"], "samples": 64}, zoo={"n_samples": 64},
                 evaluation={"grids": {a: None for a in get_preset("smoke").adaptive.attacks if a != "overwrite"}})
        assert sample_problems(p) == ["adaptive: attacks 64 samples of dcgan-s0 (adaptive.samples) and gives the "
                                      "adversary the rest, but zoo.n_samples is 64: raise zoo.n_samples above 64, "
                                      "or lower adaptive.samples"]
        assert sample_problems(p) == [m for m in data_problems(p, 512, 128, 64) if m.startswith("adaptive")]

    def test_the_detectors_test_samples_leave_a_training_pool(self):
        p = tiny(adaptive={"detect_test": 64}, zoo={"n_samples": 64})
        assert any(m.startswith("adaptive: tests its detectors on 64 samples of dcgan-s0 (adaptive.detect_test)")
                   for m in sample_problems(p))

    def test_the_generator_pool_is_samples_less_those_attacked(self):
        p = tiny(zoo={"n_samples": 40})
        problems = sample_problems(p)
        assert "adaptive: averaging draws up to 32 images (n_samples, evaluation.grids.averaging) from the other " \
               "samples of dcgan-s0, which hold 24 (zoo.n_samples 40 minus adaptive.samples 16): lower " \
               "evaluation.grids.averaging to at most 24, or raise zoo.n_samples to 48" in problems
        assert any(m.startswith("adaptive: detectability_srm draws up to 32") and "minus adaptive.detect_test 16" in m
                   for m in problems)

    def test_no_detector_pool_without_a_clean_control(self):
        # without a clean control no detector trains on generator samples: only the removal pools count
        p = tiny(zoo={"generators": [{"id": "dcgan-s0", "arch": "dcgan", "seed": 0}], "n_samples": 40})
        problems = sample_problems(p)
        assert problems and not any("detectability" in m for m in problems), problems

    def test_fid_needs_two_samples(self):
        p = tiny(adaptive={"attacks": []}, zoo={"n_samples": 1},
                 evaluation={"grids": {a: None for a in get_preset("smoke").adaptive.attacks}})
        assert sample_problems(p) == ["generators: FID (a covariance) needs at least 2 samples of each generator, "
                                      "and zoo.n_samples is 1: raise zoo.n_samples"]

    def test_every_pool_attack_has_a_need(self):
        needs = {n.what.split(" ")[0] for n in data_needs(users_preset()) if n.split == "holdout"}
        assert set(POOL_ATTACKS) <= needs


class TestCaps:
    def test_sample_counts_above_the_test_images_are_warnings(self):
        assert data_shortfalls(tiny(), 20) == [
            "image_attacks: image_attacks.samples asks for 32 fingerprinted photos (model data) attacked, and the "
            "test images hold 20: measured on 20 (give more images, or lower image_attacks.samples to 20 to say so)",
            "baselines: baselines.attack_samples asks for 32 real images attacked for the baselines, and the test "
            "images hold 20: measured on 20 (give more images, or lower baselines.attack_samples to 20 to say so)"]
        assert data_shortfalls(tiny(), 32) == []

    def test_a_run_warns_and_measures_what_there_is(self, tmp_path):
        from tests.stages.test_cache_keys import tiny_preset

        preset = tiny_preset().updated({"image_attacks": {"samples": 30}, "model_attacks": {"attacks": []},
                                        "baselines": {"methods": []}, "adaptive": {"attacks": []},
                                        "evaluation": {"grids": {"weight_noise": None, "overwrite": None}}})
        outcome = run(preset, tmp_path / "out", cache=ArtifactCache(tmp_path / "cache"), progress=False)
        assert "FpbenchWarning: " + data_shortfalls(preset, 24)[0] in outcome.manifest["warnings"]
        df = outcome.results
        attacked = df[(df["attack"] == "jpeg") & (df["model"] == "data") & (df["metric"] == "bit_accuracy")]
        assert len(attacked) and (attacked["n"] == 24).all()


class TestModelAttackNeeds:
    def test_weight_averaging_needs_a_second_generator_of_the_architecture(self):
        p = tiny(model_attacks={"attacks": ["weight_averaging"]}, evaluation={"grids": {"weight_noise": None,
                                                                                         "finetuning": None}})
        one = tuple(g for g in p.zoo.generators if g.id == "dcgan-s0" or not g.fingerprinted)  # smoke has three
        p = dataclasses.replace(p, zoo=dataclasses.replace(p.zoo, generators=one))
        assert config_problems(p) == [
            "model_attacks: weight_averaging merges dcgan-s0 with a second fingerprinted dcgan generator, and "
            "zoo.generators has none: add one (another seed), or drop weight_averaging from model_attacks.attacks"]
        paper = get_preset("paper")
        assert config_problems(paper) == []

    def test_model_soup_needs_a_clean_generator_of_the_architecture(self):
        grids = {"weight_noise": None, "finetuning": None}
        assert config_problems(tiny(model_attacks={"attacks": ["model_soup"]}, evaluation={"grids": grids})) == []
        no_clean = tiny(model_attacks={"attacks": ["model_soup"]}, evaluation={"grids": grids},
                        zoo={"generators": [{"id": "dcgan-s0", "arch": "dcgan", "seed": 0},
                                            {"id": "resnet-clean", "arch": "resnet", "seed": 0,
                                             "fingerprinted": False}]})
        assert config_problems(no_clean) == [
            "model_attacks: model_soup merges dcgan-s0 with a clean dcgan generator, and zoo.generators has none: "
            "add one (fingerprinted: false, arch: dcgan), or drop model_soup from model_attacks.attacks"]

    def test_the_stage_offers_the_clean_control_of_the_targets_architecture(self):
        from types import SimpleNamespace

        from fpbench.generators import GanConfig
        from fpbench.pipeline.stages.generators import Zoo
        from fpbench.pipeline.stages.model_attacks import _context

        nets = {g: torch.nn.Linear(1, 1) for g in ("dcgan-s0", "resnet-clean", "dcgan-clean")}
        configs = {"dcgan-s0": GanConfig(), "resnet-clean": GanConfig(arch="resnet"), "dcgan-clean": GanConfig()}
        zoo = Zoo(fingerprints={}, generators=nets, configs=configs, samples={},
                  clean_ids=["resnet-clean", "dcgan-clean"])
        real = SimpleNamespace(train=torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
        assert _context("dcgan-s0", zoo, real, "cpu", 300).clean_model is nets["dcgan-clean"]
        zoo.clean_ids.remove("dcgan-clean")
        del zoo.generators["dcgan-clean"]
        assert _context("dcgan-s0", zoo, real, "cpu", 300).clean_model is None
