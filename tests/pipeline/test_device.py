"""``--device cuda`` on a machine without CUDA is an error before anything is read, computed or written
(no out folder, no cache, no data stage), from the CLI and from ``fpbench.pipeline.runner.run``."""

from __future__ import annotations

import pytest
import torch

import fpbench.pipeline.runner
from fpbench.cache import ArtifactCache
from fpbench.pipeline.cli import main
from fpbench.pipeline.presets import get_preset
from fpbench.pipeline.runner import run


@pytest.fixture
def no_cuda(monkeypatch):
    """No CUDA GPU visible (also on a machine that has one), and a data stage that must not be reached."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def reached(ctx):
        raise AssertionError("the data stage ran before the device was checked")

    monkeypatch.setattr(fpbench.pipeline.runner, "load_real_images", reached)


@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cli_refuses_cuda_without_a_gpu(no_cuda, device, tmp_path, capsys):
    out, cache = tmp_path / "x", tmp_path / "cache"
    code = main(["run", "--preset", "smoke", "--device", device, "--out", str(out), "--cache-dir", str(cache)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "no CUDA GPU is visible" in err and "--device cpu" in err and "Traceback" not in err
    assert not out.exists() and not cache.exists()


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_run_refuses_cuda_without_a_gpu(no_cuda, device, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    with pytest.raises(ValueError, match="no CUDA GPU is visible; use --device cpu"):
        run(get_preset("smoke"), out, device=device, cache=ArtifactCache(cache), progress=False)
    assert not out.exists() and not cache.exists()


def test_run_refuses_an_unknown_device(tmp_path):
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        run(get_preset("smoke"), tmp_path / "out", device="tpu", cache=ArtifactCache(tmp_path / "cache"),
            progress=False)
    assert not (tmp_path / "out").exists()


def test_evaluate_refuses_cuda_without_a_gpu(no_cuda, tmp_path, capsys):
    out, cache = tmp_path / "x", tmp_path / "cache"
    card = tmp_path / "card.yaml"
    card.write_text('id: m\nfingerprint: "0110"\nn_bits: 4\nresolution: 16\ncallable: "m:f"\n')
    code = main(["evaluate", "--card", str(card), "--device", "cuda", "--out", str(out), "--cache-dir", str(cache)])
    err = capsys.readouterr().err
    assert code == 2 and "no CUDA GPU is visible" in err
    assert not out.exists() and not cache.exists()
