"""fpbench.profiling: the phases of the fingerprint and GAN training loops under torch.profiler (issue 20)."""

from __future__ import annotations

import pytest
import torch

from fpbench.fingerprint.training import FingerprintTrainConfig, TrainingWarning, train_fingerprint
from fpbench.generators import GanConfig, train_gan
from fpbench.profiling import LOOPS, phase_rows, profile_phases

# tiny runs: accuracy never reaches activation in 8 steps, which train_fingerprint reports
pytestmark = pytest.mark.filterwarnings(f"ignore::{TrainingWarning.__module__}.{TrainingWarning.__name__}")

FP = FingerprintTrainConfig(n_bits=16, resolution=16, steps=8, batch_size=16, lr=1e-3, output="residual",
                            l2_await=2, l2_ramp=4, checkpoint_every=4, seed=7)
GAN = GanConfig(arch="dcgan", resolution=16, latent_dim=8, width=4, steps=4, batch_size=8, checkpoint_every=2, seed=3)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randint(0, 256, (32, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def _train_fingerprint(images, path):
    return train_fingerprint(images, FP, progress=False, resume_path=path)


def _train_gan(images, path):
    return train_gan(images, GAN, progress=False, checkpoint_path=path)


def _assert_identical(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


@pytest.mark.parametrize("loop", ["fingerprint", "gan"])
def test_every_phase_timed_within_wall_time_and_weights_unchanged(loop, images, tmp_path):
    train, steps = (_train_fingerprint, FP.steps) if loop == "fingerprint" else (_train_gan, GAN.steps)
    prefix, phases = LOOPS[loop]
    plain = train(images, tmp_path / "plain.ckpt")
    out = profile_phases(lambda: train(images, tmp_path / "profiled.ckpt"), prefix=prefix)

    assert set(out["phases"]) == {prefix + p for p in phases}  # every phase, no stray label
    assert all(ms > 0 for ms in out["phases"].values()), out["phases"]
    assert out["calls"][prefix + "forward" if loop == "fingerprint" else prefix + "g_forward"] == steps
    assert out["calls"][prefix + "checkpoint"] >= 1
    wall_ms = out["wall_s"] * 1000
    assert sum(out["phases"].values()) <= wall_ms * 1.02 + 1.0  # the ranges are not nested

    rows = phase_rows(loop, out, steps)
    assert [r["phase"] for r in rows] == [*phases, "other", "wall"]
    assert rows[-1]["ms"] == pytest.approx(wall_ms)
    assert sum(r["ms"] for r in rows[:-1]) == pytest.approx(wall_ms)
    assert sum(r["share"] for r in rows[:-1]) == pytest.approx(1.0)

    # the profiler (and the ranges) change no number
    if loop == "fingerprint":
        for net in ("encoder", "decoder"):
            _assert_identical(getattr(plain.models, net), getattr(out["result"].models, net))
        assert plain.history == out["result"].history
    else:
        for net in ("generator", "online_generator", "discriminator"):
            _assert_identical(getattr(plain, net), getattr(out["result"], net))
        assert torch.equal(plain.history, out["result"].history)


def test_profile_phases_keeps_only_the_prefix():
    def work():
        with torch.profiler.record_function("mine.a"):
            x = torch.ones(64).mul(2)
        with torch.profiler.record_function("theirs.b"):
            x = x.add(1)
        with torch.profiler.record_function("mine.a"):
            return x.sum().item()

    out = profile_phases(work, prefix="mine.")
    assert out["result"] == 192.0
    assert list(out["phases"]) == ["mine.a"] and out["calls"] == {"mine.a": 2}
    with pytest.raises(ValueError, match="prefix"):
        profile_phases(work, prefix="")


def test_phase_rows_refuses_unknown_loop_and_zero_steps():
    out = {"phases": {}, "calls": {}, "wall_s": 1.0, "result": None}
    with pytest.raises(ValueError, match="unknown loop"):
        phase_rows("vae", out, 1)
    with pytest.raises(ValueError, match="steps"):
        phase_rows("gan", out, 0)
    rows = phase_rows("gan", out, 10)  # a phase that never ran reads 0, the wall is all "other"
    assert rows[-2]["phase"] == "other" and rows[-2]["ms"] == pytest.approx(1000.0)
