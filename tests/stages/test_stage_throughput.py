"""The attack stages' throughput in ``ctx.notes`` (and so in the manifest): images per second of every image,
model and adaptive attack a stage measured, steps per second of those that train or optimise, the model-attack
cells timed where they run (here an in-process stand-in for Ray); cells read from the cache report nothing,
and the timing leaves the rows as they were. Random networks and images, 16x16: no training beyond a few
steps."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from fpbench.attacks.context import AttackContext
from fpbench.attacks.registry import get_attack
from fpbench.cache import ArtifactCache
from fpbench.fingerprint.checkpoint import FingerprintModels
from fpbench.fingerprint.embedding import random_fingerprint
from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder
from fpbench.generators import GanConfig, build
from fpbench.pipeline.cli import _throughput_line
from fpbench.pipeline.stages import model_attacks
from fpbench.pipeline.stages.adaptive import run_adaptive
from fpbench.pipeline.stages.codec import paper_codec
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.data import RealImages
from fpbench.pipeline.stages.generators import Zoo
from fpbench.pipeline.stages.image_attacks import run_image_attacks
from fpbench.pipeline.stages.throughput import attack_steps
from fpbench.results import to_frame
from tests.stages.test_cache_keys import tiny_preset

MODEL_ATTACKS = {"weight_noise": (0.1,), "finetuning": (0, 2)}
ADAPTIVE = {"overwrite": (1.0,), "surrogate_pgd": (8,), "detectability_cnn": (4,)}
TRAINED = {"finetuning", "surrogate_pgd", "detectability_cnn"}


def _images(n: int, seed: int, res: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, res, res), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _stage(cache: Path, executor: str = "local") -> tuple[RunContext, object, RealImages, Zoo]:
    """A context, the paper's codec with random networks, random photos and a zoo of two random 16x16 DCGANs
    (fingerprinted, clean)."""
    torch.manual_seed(0)
    p = tiny_preset()
    bits, res = p.n_bits, p.resolution
    p = p.updated({"executor": {"kind": executor}, "zoo": {"n_samples": 16}, "image_attacks": {"samples": 8},
                   "model_attacks": {"attacks": list(MODEL_ATTACKS), "targets": ["g-a"]},
                   "adaptive": {"attacks": list(ADAPTIVE), "pgd_steps": 2, "cnn_steps": 2, "denoiser_steps": 2},
                   "evaluation": {"grids": {"jpeg": [50], **{k: list(v) for k, v in {**MODEL_ATTACKS,
                                                                                        **ADAPTIVE}.items()}}}})
    real = RealImages(train=_images(16, 1, res), test=_images(8, 2, res), holdout=_images(8, 3, res),
                      source="random", reference=_images(16, 4, res))
    configs = {g: GanConfig(arch="dcgan", resolution=res, latent_dim=8, width=4, steps=2, batch_size=8, seed=s)
               for s, g in enumerate(("g-a", "g-clean"))}
    zoo = Zoo({"data": random_fingerprint(bits, 0), "g-a": random_fingerprint(bits, 1)},
              {g: build("dcgan", res, 8, 4)[0].eval() for g in configs}, configs, samples={}, clean_ids=["g-clean"])
    ctx = RunContext(preset=p, cache=ArtifactCache(cache), out=cache.parent / "out", progress=False,
                     lineage={"data": real.key})
    codec = paper_codec(ctx, FingerprintModels(FingerprintEncoder(bits, res), FingerprintDecoder(bits, res).eval()),
                        "codec")
    return ctx, codec, real, zoo


class _InProcessPool:
    """RayPool's interface, each task run here at once: the stage's Ray path without Ray."""

    threads, slots, resources = 1, 1, {"cluster_cpus": 1}

    def __init__(self, *args) -> None:
        self._results: list = []

    def submit(self, fn, *args):
        self._results.append(fn(*args))
        return len(self._results) - 1

    def finished(self, handles: list) -> list:
        return handles[:1]

    def result(self, handle):
        return self._results[handle]

    def close(self) -> None:
        pass


def _positive(x: object) -> bool:
    return isinstance(x, float | int) and math.isfinite(x) and x > 0 and round(x, 2) == x


def _check_rates(notes: dict, key: str, attacks) -> None:
    assert set(notes[key]) == set(attacks), key
    for attack, rates in notes[key].items():
        assert _positive(rates["images_per_second"]), (key, attack, rates)
        assert ("steps_per_second" in rates) == (attack in TRAINED), (key, attack, rates)
        assert attack not in TRAINED or _positive(rates["steps_per_second"]), (key, attack, rates)


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_model_attack_cells_report_their_rates_where_they_run(tmp_path, monkeypatch, executor):
    monkeypatch.setattr(model_attacks, "RayPool", _InProcessPool)
    ctx, codec, real, zoo = _stage(tmp_path / "cache", executor)
    model_attacks.run_model_attacks(ctx, codec, real, zoo)
    _check_rates(ctx.notes, "model_attack_throughput", MODEL_ATTACKS)
    assert "model attacks: " in _throughput_line(ctx.notes)
    warm, codec, real, zoo = _stage(tmp_path / "cache", executor)
    model_attacks.run_model_attacks(warm, codec, real, zoo)
    assert warm.cache.misses == [] and "model_attack_throughput" not in warm.notes  # cached: no work, no rate
    pd.testing.assert_frame_equal(to_frame(warm.rows), to_frame(ctx.rows), rtol=1e-9)


@pytest.mark.filterwarnings("ignore::fpbench.evaluation.operating_points.SmallSampleWarning",
                            "ignore::fpbench.fingerprint.training.TrainingWarning")
def test_image_and_adaptive_attacks_report_their_rates(tmp_path):
    ctx, codec, real, zoo = _stage(tmp_path / "cache")
    stamped = codec.stamp(real.test, zoo.fingerprints["data"])
    run_image_attacks(ctx, codec, real, None, stamped)
    run_adaptive(ctx, codec, real, None)
    assert set(ctx.notes["image_attack_throughput"]) == {"jpeg"}
    assert _positive(ctx.notes["image_attack_throughput"]["jpeg"]["images_per_second"])
    _check_rates(ctx.notes, "adaptive_throughput", ADAPTIVE)
    assert _positive(ctx.notes["adversary_steps_per_second"])
    line = _throughput_line(ctx.notes)
    assert line.startswith("throughput") and "jpeg" in line and "surrogate_pgd" in line
    warm, codec, real, zoo = _stage(tmp_path / "cache")
    run_image_attacks(warm, codec, real, None, stamped)
    run_adaptive(warm, codec, real, None)
    for key in ("image_attack_throughput", "adaptive_throughput", "adversary_steps_per_second"):
        assert key not in warm.notes, key
    assert _throughput_line(warm.notes) == ""
    pd.testing.assert_frame_equal(to_frame(warm.rows), to_frame(ctx.rows), rtol=1e-9)


def test_attack_steps_as_the_attacks_declare_them():
    assert attack_steps(get_attack("finetuning"), 7) == 7
    assert attack_steps(get_attack("finetuning"), 0) == 0
    assert attack_steps(get_attack("weight_noise"), 0.1) == 0
    assert attack_steps(get_attack("surrogate_pgd"), 8, AttackContext(pgd_steps=3)) == 3
    assert attack_steps(get_attack("surrogate_pgd"), 0, AttackContext(pgd_steps=3)) == 0  # neutral: the identity
    assert attack_steps(get_attack("surrogate_pgd"), 8) == 40  # the function's default
    assert attack_steps(get_attack("fine_pruning"), 0.5, AttackContext(finetune_steps=5)) == 5
