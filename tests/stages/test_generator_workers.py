"""fpbench.pipeline.stages.generators: generators trained in worker processes equal the same training in-process,
land in the cache as they finish, and a worker's error reaches the caller."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from fpbench.baselines._torch_classifier import torch_threads
from fpbench.cache import ArtifactCache
from fpbench.generators import GanConfig
from fpbench.pipeline.presets import PRESETS, GeneratorPlan
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.generators import _Job, _train_job, _train_missing


def _jobs() -> list[_Job]:
    images = torch.randint(0, 256, (24, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    jobs = []
    for seed, arch in ((1, "dcgan"), (2, "resnet")):
        plan = GeneratorPlan(f"{arch}-s{seed}", arch, seed, steps=3, width=4, latent_dim=8, batch_size=8)
        cfg = GanConfig(arch=arch, resolution=16, latent_dim=8, width=4, steps=3, batch_size=8, seed=seed,
                        checkpoint_every=2)
        jobs.append(_Job(plan, cfg, lambda: images, f"key{seed}"))
    return jobs


def _ctx(tmp_path: Path, workers: int) -> RunContext:
    preset = PRESETS.get("smoke").updated({"zoo": {"workers": workers}})
    return RunContext(preset=preset, cache=ArtifactCache(tmp_path / "cache"), out=tmp_path / "out", progress=False)


def test_workers_train_what_one_thread_trains_in_process(tmp_path):
    jobs = _jobs()
    ctx = _ctx(tmp_path, workers=2)
    with torch_threads(2):  # two workers on two threads: one thread each
        trained = _train_missing(ctx, jobs)
    with torch_threads(1):
        expected = {j.key: _train_job(j.load_data(), j.config, None, None, False, "cpu")[0] for j in jobs}
    assert trained.keys() == expected.keys()
    for key, state in expected.items():
        assert state.keys() == trained[key].keys()
        for name in state:
            torch.testing.assert_close(trained[key][name], state[name], atol=0, rtol=0, msg=name)
    for job in jobs:  # cached as they finished, checkpoints of the finished runs removed
        assert ctx.cache.path("generator", job.key, "safetensors").exists()
        assert not ctx.cache.path("generator", job.key, "partial.safetensors").exists()
    assert set(ctx.notes["generator_steps_per_second"]) == {j.plan.id for j in jobs}
    assert sorted(ctx.cache.misses) == ["generator/key1", "generator/key2"]


def test_cached_generators_are_not_trained_again(tmp_path):
    jobs = _jobs()
    _train_missing(_ctx(tmp_path, workers=1), jobs[:1])
    ctx = _ctx(tmp_path, workers=2)
    trained = _train_missing(ctx, jobs)
    assert list(trained) == [jobs[1].key]  # one left to train: no pool needed
    assert ctx.cache.misses == ["generator/key2"]


def test_worker_error_reaches_the_caller(tmp_path):
    jobs = _jobs()
    bad = dataclasses.replace(jobs[1], load_data=lambda: torch.zeros(4, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="config.resolution is 16"):
        _train_missing(_ctx(tmp_path, workers=2), [jobs[0], bad])
