"""fpbench.fingerprint.checkpoint: safetensors round trip and clear errors for the wrong file."""

from __future__ import annotations

import re

import pytest
import torch
from safetensors.torch import save_file

from fpbench.fingerprint.checkpoint import (
    CheckpointError,
    FingerprintModels,
    load_models,
    read_metadata,
    save_models,
)
from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder, initialise


def make_models(n_bits: int = 24, resolution: int = 32, output: str = "residual") -> FingerprintModels:
    torch.manual_seed(n_bits + resolution)
    enc, dec = FingerprintEncoder(n_bits, resolution, output), FingerprintDecoder(n_bits, resolution)
    initialise(enc)
    initialise(dec)
    return FingerprintModels(enc.eval(), dec.eval())


@pytest.fixture
def saved(tmp_path):
    models = make_models()
    path = save_models(models, tmp_path / "fp.safetensors", {"activated_at": "12"})
    return models, path


def names_both(message: str, a: int, b: int) -> bool:
    numbers = set(re.findall(r"\d+", message))
    return str(a) in numbers and str(b) in numbers


class TestCheckpoint:
    @pytest.mark.parametrize("output", ["sigmoid", "residual"])
    def test_round_trip_gives_identical_outputs(self, tmp_path, output):
        models = make_models(output=output)
        path = save_models(models, tmp_path / "m.safetensors")
        loaded = load_models(path)
        assert loaded.encoder.output == output and (loaded.n_bits, loaded.resolution) == (24, 32)
        x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        bits = torch.randint(0, 2, (3, 24), generator=torch.Generator().manual_seed(1)).float()
        with torch.no_grad():
            assert torch.equal(loaded.encoder(x, bits), models.encoder(x, bits))
            assert torch.equal(loaded.decoder(x), models.decoder(x))
        assert not loaded.encoder.training and not loaded.decoder.training

    def test_metadata_and_no_temp_files(self, saved, tmp_path):
        _, path = saved
        meta = read_metadata(path)
        assert meta["n_bits"] == "24" and meta["resolution"] == "32" and meta["activated_at"] == "12"
        assert [p.name for p in tmp_path.iterdir()] == ["fp.safetensors"]

    @pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
    def test_load_maps_to_requested_device(self, saved, device):
        loaded = load_models(saved[1], device=device)
        assert all(p.device.type == "cpu" for p in loaded.encoder.parameters())
        assert all(p.device.type == "cpu" for p in loaded.decoder.parameters())

    def test_expected_shape_accepted(self, saved):
        assert load_models(saved[1], n_bits=24, resolution=32).n_bits == 24

    def test_n_bits_mismatch_names_both(self, saved):
        with pytest.raises(CheckpointError) as info:
            load_models(saved[1], n_bits=100)
        assert names_both(str(info.value), 24, 100)

    def test_resolution_mismatch_names_both(self, saved):
        with pytest.raises(CheckpointError) as info:
            load_models(saved[1], resolution=128)
        assert names_both(str(info.value), 32, 128)

    def test_missing_file(self, tmp_path):
        with pytest.raises(CheckpointError, match="does not exist"):
            load_models(tmp_path / "nope.safetensors")

    def test_random_bytes(self, tmp_path):
        path = tmp_path / "random.safetensors"
        path.write_bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).numpy().tobytes())
        with pytest.raises(CheckpointError, match="not a readable safetensors checkpoint"):
            load_models(path)

    def test_truncated_file(self, saved, tmp_path):
        data = saved[1].read_bytes()
        path = tmp_path / "cut.safetensors"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(CheckpointError):
            load_models(path)

    def test_foreign_safetensors_file(self, tmp_path):
        path = tmp_path / "other.safetensors"
        save_file({"weight": torch.zeros(3)}, str(path), metadata={"format": "pt"})
        with pytest.raises(CheckpointError, match="not an fpbench fingerprint checkpoint"):
            load_models(path)

    def test_tensors_that_do_not_fit_the_metadata(self, saved, tmp_path):
        """A file whose metadata says 64 px but whose decoder was built for 32 px."""
        from safetensors.torch import load_file

        path = tmp_path / "lying.safetensors"
        meta = {**read_metadata(saved[1]), "resolution": "64"}
        save_file(load_file(str(saved[1])), str(path), metadata=meta)
        with pytest.raises(CheckpointError, match="do not fit the architecture"):
            load_models(path)
