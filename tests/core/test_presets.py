"""fpbench.pipeline.presets: every shipped preset's generator plans are valid training configs, typos fail early."""

from __future__ import annotations

import dataclasses

import pytest

from fpbench.generators import GENERATORS, LOSSES
from fpbench.pipeline.presets import PRESETS, GeneratorPlan
from fpbench.pipeline.runner import run
from fpbench.pipeline.stages.generators import gan_config
from fpbench.registry import UnknownIdError


@pytest.mark.parametrize("name", PRESETS.ids())
def test_generator_plans_build_valid_configs(name):
    preset = PRESETS.get(name)
    assert preset.zoo.generators, f"{name} trains no generators"
    ids = [plan.id for plan in preset.zoo.generators]
    assert len(ids) == len(set(ids)), f"duplicate generator ids in {name}: {ids}"
    assert any(not plan.fingerprinted for plan in preset.zoo.generators), f"{name} has no clean control"
    for plan in preset.zoo.generators:
        cfg = gan_config(plan, preset.resolution)
        assert (cfg.arch, cfg.discriminator, cfg.loss, cfg.steps, cfg.batch_size, cfg.lr_g, cfg.lr_d) == (
            plan.arch, plan.discriminator, plan.loss, plan.steps, plan.batch_size, plan.lr, plan.lr)
        assert cfg.arch in GENERATORS and cfg.loss in LOSSES


@pytest.mark.parametrize("field,value", [("arch", "dcgn"), ("discriminator", "resnt"), ("loss", "hnge")])
def test_plan_typos_fail_at_definition(field, value):
    kwargs = {"id": "g", "arch": "dcgan", "seed": 0, field: value}
    with pytest.raises(UnknownIdError, match="Did you mean"):
        GeneratorPlan(**kwargs)


def test_quick_zoo_pairs_the_resnet_with_a_strided_discriminator():
    # the average-pooling ResNet D never teaches its G the fingerprint at CPU scale (docs/transfer.md)
    plans = {plan.id: plan for plan in PRESETS.get("quick").zoo.generators}
    assert plans["resnet-s1"].arch == "resnet" and plans["resnet-s1"].discriminator == "dcgan"
    schedules = {(plan.steps, plan.batch_size, plan.lr) for plan in plans.values() if plan.arch == "dcgan"}
    assert len(schedules) == 1, "the clean control must train like the fingerprinted DCGANs"


@pytest.mark.parametrize("field,value", [("batch_size", 0), ("lr", -1.0), ("steps", -5)])
def test_bad_plan_fails_before_any_stage(tmp_path, field, value):
    smoke = PRESETS.get("smoke")
    bad = dataclasses.replace(smoke.zoo.generators[0], **{field: value})
    preset = dataclasses.replace(smoke, zoo=dataclasses.replace(smoke.zoo, generators=(bad, *smoke.zoo.generators[1:])))
    with pytest.raises(ValueError, match="lr|batch_size|steps"):
        run(preset, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
