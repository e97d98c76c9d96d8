"""Speed of what a run spends its time on (pytest-benchmark, `tox -e perf`; issue 20): every image-attack
cell (attack + decode + every metric of the cell, 1000 fingerprinted + 1000 clean 32x32 images, the quick
preset's decoder) against the same attack and decode one image at a time the way peer suites loop, the
batched decoder alone, DCGAN training steps, and a whole cold smoke run.

img/s and steps/s go into each benchmark's ``extra_info``. Save a baseline with
``tox -e perf -- --benchmark-save=NAME`` and compare a later run with
``tox -e perf -- --benchmark-compare=NAME --benchmark-compare-fail=mean:25%`` (docs/profile.md)."""

from __future__ import annotations

import dataclasses
import time
import warnings

import pytest
import torch

from fpbench.attacks.registry import ATTACKS, AttackKind
from fpbench.baselines._torch_classifier import torch_threads
from fpbench.cache import ArtifactCache
from fpbench.fingerprint.nets import FingerprintDecoder
from fpbench.generators import train_gan
from fpbench.pipeline.image_robustness import evaluate_image_attacks
from fpbench.pipeline.presets import PRESETS
from fpbench.pipeline.runner import run
from fpbench.pipeline.stages.generators import gan_config

pytestmark = pytest.mark.perf
N, N_BITS, RES, THREADS = 1000, 48, 32, 2
IMAGE_IDS = sorted(i for i, s in ATTACKS.items() if s.kind is AttackKind.IMAGE)
LOOPED = ("jpeg", "gaussian_blur", "gaussian_noise", "center_crop")


def _mid(spec) -> float:
    """A middle severity of the attack's default grid (not its neutral value)."""
    grid = [v for v in spec.grid if spec.neutral is None or v != spec.neutral]
    return grid[len(grid) // 2]


@pytest.fixture(scope="module")
def world():
    torch.manual_seed(0)
    decoder = FingerprintDecoder(N_BITS, RES).eval()
    g = torch.Generator().manual_seed(0)
    images, clean = torch.rand(N, 3, RES, RES, generator=g), torch.rand(N, 3, RES, RES, generator=g)
    fingerprints = {"data": torch.randint(0, 2, (N_BITS,), generator=g).float()}

    @torch.inference_mode()
    def decode(x: torch.Tensor) -> torch.Tensor:
        return (decoder(x) > 0).float()

    return decoder, decode, images, clean, fingerprints


def _cell(world, attack_id: str):
    _, decode, images, clean, fingerprints = world
    spec = ATTACKS.get(attack_id)
    with warnings.catch_warnings():  # 1000 clean images are too few for FPR 0.001: expected here
        warnings.simplefilter("ignore")
        return evaluate_image_attacks({"data": images}, fingerprints, decode, clean, [(spec, [_mid(spec)])],
                                      progress=False, include_clean=False)


@pytest.mark.parametrize("attack_id", IMAGE_IDS)
def test_image_attack_cell(benchmark, world, attack_id):
    benchmark.group = f"image-attack cell: {N} + {N} images 32x32, {THREADS} threads"
    with torch_threads(THREADS):
        rows = benchmark.pedantic(_cell, args=(world, attack_id), rounds=3, iterations=1, warmup_rounds=1)
    assert rows and {r.attack for r in rows} == {attack_id}
    benchmark.extra_info["images_per_second"] = 2 * N / benchmark.stats["mean"]


@pytest.mark.parametrize("attack_id", LOOPED)
def test_per_image_loop(benchmark, world, attack_id):
    """The attack and decode one image at a time, as a per-image loop does: the cell must beat it >= 3x."""
    _, decode, images, clean, _ = world
    spec = ATTACKS.get(attack_id)
    value = _mid(spec)

    def loop() -> None:
        for x in (images, clean):
            for i in range(len(x)):
                decode(spec(x[i:i + 1], value, seed=i))

    benchmark.group = f"per-image loop: {N} + {N} images 32x32, {THREADS} threads"
    with torch_threads(THREADS):
        benchmark.pedantic(loop, rounds=1, iterations=1)
    benchmark.extra_info["images_per_second"] = 2 * N / benchmark.stats["mean"]


def test_decoder_alone(benchmark, world):
    _, decode, images, _, _ = world
    benchmark.group = "decoder"
    with torch_threads(THREADS):
        benchmark.pedantic(lambda: [decode(images[i:i + 500]) for i in range(0, N, 500)], rounds=5, iterations=1)
    benchmark.extra_info["images_per_second"] = N / benchmark.stats["mean"]


def test_dcgan_training_steps(benchmark):
    """100 steps of the quick preset's first DCGAN (batch 32, 32 px) on random photos, setup included."""
    plan = PRESETS.get("quick").zoo.generators[0]
    config = dataclasses.replace(gan_config(plan, RES), steps=100)
    data = torch.randint(0, 256, (512, 3, RES, RES), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    elapsed: list[float] = []

    def train() -> None:
        start = time.perf_counter()
        train_gan(data, config, progress=False)
        elapsed.append(time.perf_counter() - start)

    benchmark.group = "training"
    with torch_threads(THREADS):
        benchmark.pedantic(train, rounds=2, iterations=1)
    benchmark.extra_info["steps_per_second"] = config.steps / min(elapsed)


def test_cold_smoke_run(benchmark, tmp_path):
    """The whole smoke preset from an empty cache on one thread (the CI gate's run)."""
    counter = iter(range(100))

    def once() -> None:
        i = next(counter)
        run(PRESETS.get("smoke"), tmp_path / f"run{i}", cache=ArtifactCache(tmp_path / f"cache{i}"), progress=False)

    benchmark.group = "smoke run"
    with torch_threads(1):
        benchmark.pedantic(once, rounds=1, iterations=1)
