"""fpbench.pipeline.executors with Ray (issue 18): generators trained, baselines fitted and model-attack cells
measured as Ray tasks equal the same work in this process, land in the cache as they finish and are never done
again; a task whose worker died is retried; a job's own error reaches the caller; and a whole smoke run (its model
attacks included) on a 2-CPU Ray cluster gives the local run's results.csv (slow: ``tox -e ray``). Skipped where Ray is not installed (``pip install 'fpbench[ray]'``)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

ray = pytest.importorskip("ray")

from fpbench.baselines import Yu2019  # noqa: E402
from fpbench.baselines._torch_classifier import torch_threads  # noqa: E402
from fpbench.cache import ArtifactCache, checksum_path  # noqa: E402
from fpbench.fingerprint.checkpoint import FingerprintModels  # noqa: E402
from fpbench.fingerprint.embedding import random_fingerprint  # noqa: E402
from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder  # noqa: E402
from fpbench.generators import GanConfig, build  # noqa: E402
from fpbench.pipeline.config import ExecutorConfig  # noqa: E402
from fpbench.pipeline.executors import RayPool, unordered  # noqa: E402
from fpbench.pipeline.presets import PRESETS  # noqa: E402
from fpbench.pipeline.stages import model_attacks  # noqa: E402
from fpbench.pipeline.stages.baselines import _fit_job  # noqa: E402
from fpbench.pipeline.stages.codec import paper_codec  # noqa: E402
from fpbench.pipeline.stages.context import RunContext  # noqa: E402
from fpbench.pipeline.stages.data import RealImages  # noqa: E402
from fpbench.pipeline.stages.generators import Zoo, _train_job, _train_missing  # noqa: E402
from fpbench.results import to_frame  # noqa: E402
from tests.stages.test_generator_workers import _jobs  # noqa: E402

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def cluster():
    """A local 2-CPU Ray cluster in this process (the pool uses a Ray already initialised)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def _ctx(tmp_path: Path) -> RunContext:
    preset = PRESETS.get("smoke").updated({"executor": {"kind": "ray"}})
    return RunContext(preset=preset, cache=ArtifactCache(tmp_path / "cache"), out=tmp_path / "out", progress=False)


def test_ray_tasks_train_what_one_thread_trains_in_process(cluster, tmp_path):
    jobs = _jobs()
    ctx = _ctx(tmp_path)
    trained = _train_missing(ctx, jobs)
    with torch_threads(1):
        expected = {j.key: _train_job(j.load_data(), j.config, None, None, False, "cpu")[0] for j in jobs}
    assert trained.keys() == expected.keys()
    for key, state in expected.items():
        for name in state:
            torch.testing.assert_close(trained[key][name], state[name], atol=0, rtol=0, msg=name)
    for job in jobs:  # cached as they finished
        assert ctx.cache.path("generator", job.key, "safetensors").exists()
    assert ctx.notes["executor"]["kind"] == "ray" and ctx.notes["executor"]["cluster_cpus"] == 2
    again = _ctx(tmp_path)
    assert _train_missing(again, jobs) == {} and again.cache.misses == []  # finished jobs are never rerun


def test_a_job_error_reaches_the_caller(cluster, tmp_path):
    jobs = _jobs()
    bad = dataclasses.replace(jobs[1], load_data=lambda: torch.zeros(4, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(Exception, match="config.resolution is 16"):
        _train_missing(_ctx(tmp_path), [jobs[0], bad])


def test_a_baseline_fit_on_ray_equals_the_local_fit(cluster):
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (48, 3, 16, 16), dtype=torch.uint8, generator=g)
    X[24:, 0] //= 2  # class 1: a darker red channel, learnable in a few steps
    y = np.array([0] * 24 + [1] * 24)
    make = lambda: Yu2019(epochs=2, batch_size=8, max_width=8, random_state=0)  # noqa: E731
    pool = RayPool(ExecutorConfig(kind="ray"))
    ((_, remote),) = list(unordered(pool, _fit_job, [("yu", lambda: (make(), X, y, 1))], desc="t", unit="fit",
                                    total=1, progress=False))
    with torch_threads(1):
        local = make().fit(X, y)
    assert remote.n_steps_ == local.n_steps_ > 0
    np.testing.assert_array_equal(remote.predict_proba(X), local.predict_proba(X))


# model attacks on a tiny zoo: a one-shot change (the target alone), a merge (a second model of the architecture
# shipped to the task too) and fine-tuning (the training images and the GAN config too)
MODEL_ATTACKS = {"weight_noise": (0.05, 0.2), "weight_averaging": (0.25,), "finetuning": (2,)}


def _tiny_run(kind: str, cache: Path) -> tuple[RunContext, object, RealImages, Zoo]:
    """A context (executor ``kind``), the paper's codec with random networks, random photos and a zoo of two
    fingerprinted 16x16 DCGANs and a clean one, random weights: no training at all."""
    torch.manual_seed(0)
    bits, res = 8, 16
    images = lambda n, seed: torch.randint(0, 256, (n, 3, res, res), dtype=torch.uint8,  # noqa: E731
                                           generator=torch.Generator().manual_seed(seed))
    real = RealImages(train=images(16, 1), test=images(8, 2), holdout=images(8, 3), source="random",
                      reference=images(16, 4))
    configs = {g: GanConfig(arch="dcgan", resolution=res, latent_dim=8, width=4, steps=2, batch_size=8, seed=s)
               for s, g in enumerate(("g-a", "g-b", "g-clean"))}
    generators = {g: build("dcgan", res, 8, 4)[0].eval() for g in configs}
    fps = {"data": random_fingerprint(bits, 0), "g-a": random_fingerprint(bits, 1), "g-b": random_fingerprint(bits, 2)}
    zoo = Zoo(fps, generators, configs, samples={}, clean_ids=["g-clean"])
    preset = PRESETS.get("smoke").updated({
        "executor": {"kind": kind}, "zoo": {"n_samples": 16},
        "model_attacks": {"attacks": list(MODEL_ATTACKS), "targets": ["g-a", "g-b"]},
        "evaluation": {"grids": {k: list(v) for k, v in MODEL_ATTACKS.items()}}})
    ctx = RunContext(preset=preset, cache=ArtifactCache(cache), out=cache.parent / "out", progress=False,
                     lineage={"data": real.key})
    codec = paper_codec(ctx, FingerprintModels(FingerprintEncoder(bits, res), FingerprintDecoder(bits, res).eval()),
                        "codec")
    return ctx, codec, real, zoo


def _spy_on_submissions(monkeypatch) -> list:
    """The cells the model-attack stage hands to the pool, in order."""
    submitted = []

    def spy(pool, fn, jobs, **kwargs):
        jobs = list(jobs)
        submitted.extend(name for name, _ in jobs)
        yield from unordered(pool, fn, jobs, **kwargs)

    monkeypatch.setattr(model_attacks, "unordered", spy)
    return submitted


def test_model_attack_cells_on_ray_equal_the_local_cells_and_are_not_measured_twice(cluster, tmp_path,
                                                                                      monkeypatch):
    submitted = _spy_on_submissions(monkeypatch)
    ctx, codec, real, zoo = _tiny_run("ray", tmp_path / "ray-cache")
    model_attacks.run_model_attacks(ctx, codec, real, zoo)
    n_cells = 2 * sum(len(grid) for grid in MODEL_ATTACKS.values())
    assert submitted == list(range(n_cells))  # every cell a task
    local_ctx, codec, real, zoo = _tiny_run("local", tmp_path / "local-cache")
    with torch_threads(1):  # a task's torch threads: executor.cpus_per_task, 1
        model_attacks.run_model_attacks(local_ctx, codec, real, zoo)
    remote, local = to_frame(ctx.rows), to_frame(local_ctx.rows)
    assert len(local) > n_cells and set(local["attack"]) == set(MODEL_ATTACKS)
    pd.testing.assert_frame_equal(remote, local, check_exact=True)  # the same rows, in the same order
    misses = [m for m in ctx.cache.misses if m.startswith("model_attack/")]
    assert len(misses) == n_cells and sorted(misses) == sorted(local_ctx.cache.misses)  # the local keys, cached

    # a second run over that cache: nothing submitted; with one cell's rows deleted, that cell alone
    again, codec, real, zoo = _tiny_run("ray", tmp_path / "ray-cache")
    model_attacks.run_model_attacks(again, codec, real, zoo)
    assert submitted == list(range(n_cells)) and again.cache.misses == []
    fourth = local_ctx.cache.misses[3]  # the local run's misses are in cell order, the tasks' as they finished
    lost = again.cache.path("model_attack", fourth.split("/")[1], "csv")
    lost.unlink()
    checksum_path(lost).unlink()
    third, codec, real, zoo = _tiny_run("ray", tmp_path / "ray-cache")
    model_attacks.run_model_attacks(third, codec, real, zoo)
    assert submitted[n_cells:] == [3] and third.cache.misses == [fourth] and lost.exists()
    pd.testing.assert_frame_equal(to_frame(third.rows), local, rtol=1e-9)  # cached rows: 10 significant digits


def _die_once(marker: str, value: int) -> tuple[int, int]:
    """Kills its worker process the first time it runs (as an OOM kill or a lost node would)."""
    path = Path(marker)
    if not path.exists():
        path.write_text("died once")
        os._exit(1)
    return value, os.getpid()


def test_a_task_whose_worker_died_is_retried(cluster, tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the worker cannot import this test module
    pool = RayPool(ExecutorConfig(kind="ray", max_retries=2))
    jobs = [(i, lambda i=i: (str(tmp_path / f"marker{i}"), i * 10)) for i in range(3)]
    results = dict(unordered(pool, _die_once, jobs, desc="t", unit="task", total=3, progress=False))
    assert {k: v[0] for k, v in results.items()} == {0: 0, 1: 10, 2: 20}
    assert all((tmp_path / f"marker{i}").exists() for i in range(3))  # each ran twice: died, then finished


def test_no_retries_left_fails_loudly(cluster, tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    pool = RayPool(ExecutorConfig(kind="ray", max_retries=0))
    with pytest.raises(ray.exceptions.WorkerCrashedError):
        list(unordered(pool, _die_once, [(0, lambda: (str(tmp_path / "m"), 1))], desc="t", unit="task", total=1,
                       progress=False))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_smoke_on_a_ray_cluster_gives_the_local_results(tmp_path):
    """Two smoke runs from cold caches on one thread: local, and with every generator, baseline fit and model-attack
    cell a task on a 2-CPU Ray cluster started by `ray start`; results.csv equal value for value, row for row.
    About 6 minutes on 2 cores."""
    fpbench, ray_cli = (shutil.which(name, path=str(Path(sys.executable).parent)) for name in ("fpbench", "ray"))
    # Ray >= 2.59 starts clusters with token authentication; the driver then needs the mode too
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
    port = _free_port()
    subprocess.run([ray_cli, "start", "--head", "--num-cpus", "2", "--port", str(port), "--include-dashboard",
                    "false", "--disable-usage-stats"], check=True, env=env, capture_output=True)
    try:
        runs = {}
        for name, extra in (("local", []), ("ray", ["--executor", "ray", "--ray-address", f"127.0.0.1:{port}"])):
            done = subprocess.run([fpbench, "run", "--preset", "smoke", "--threads", "1", "--quiet", "--out",
                                   str(tmp_path / name), "--cache-dir", str(tmp_path / f"cache-{name}"), *extra],
                                  env=env, capture_output=True, text=True)
            assert done.returncode == 0, f"{name} run failed:\n{done.stderr[-3000:]}"
            runs[name] = pd.read_csv(tmp_path / name / "results.csv")
    finally:
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True)
    local, remote = runs["local"], runs["ray"]
    assert len(local) > 100
    pd.testing.assert_frame_equal(local, remote, check_exact=True)
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["executor"]["kind"] == "ray" and manifest["config"]["executor"]["kind"] == "ray"
