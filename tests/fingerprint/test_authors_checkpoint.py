"""fpbench.fingerprint.authors: the authors' torch.save state dicts load into fpbench's networks.

Independent reference: the key names below are written out by hand from StegaStampEncoder and
StegaStampDecoder in ningyu1991/ArtificialGANFingerprints, models.py (not derived from the mapping).
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from fpbench.fingerprint.authors import (
    load_authors_decoder,
    load_authors_encoder,
    load_decoder_file,
    to_authors_state_dict,
)
from fpbench.fingerprint.checkpoint import CheckpointError, FingerprintModels, save_models
from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder, initialise

PARAMS = (".weight", ".bias")
AUTHORS_DECODER_KEYS = {f"{layer}{p}" for p in PARAMS for layer in (
    "decoder.0", "decoder.2", "decoder.4", "decoder.6", "decoder.8", "decoder.10", "decoder.12",
    "dense.0", "dense.2")}
AUTHORS_ENCODER_KEYS = {f"{layer}{p}" for p in PARAMS for layer in (
    "secret_dense", "conv1", "conv2", "conv3", "conv4", "conv5", "up6", "conv6", "up7", "conv7",
    "up8", "conv8", "up9", "conv9", "conv10", "residual")}


def make_decoder(n_bits: int = 48, resolution: int = 32) -> FingerprintDecoder:
    torch.manual_seed(n_bits + resolution)
    decoder = FingerprintDecoder(n_bits, resolution)
    initialise(decoder)
    return decoder.eval()


def make_encoder(n_bits: int = 48, resolution: int = 32) -> FingerprintEncoder:
    torch.manual_seed(n_bits + resolution + 1)
    encoder = FingerprintEncoder(n_bits, resolution)
    initialise(encoder)
    return encoder.eval()


def images(resolution: int, n: int = 2) -> torch.Tensor:
    return torch.rand(n, 3, resolution, resolution, generator=torch.Generator().manual_seed(3))


def saved(tmp_path, net, name: str):
    path = tmp_path / name
    torch.save(to_authors_state_dict(net), path)
    return path


class TestAuthorsRoundTrip:
    @pytest.mark.parametrize(("n_bits", "resolution"), [(48, 32), (100, 128)])
    def test_decoder_keys_and_identical_outputs(self, tmp_path, n_bits, resolution):
        decoder = make_decoder(n_bits, resolution)
        path = saved(tmp_path, decoder, "exp_decoder.pth")
        assert set(torch.load(path, weights_only=True)) == AUTHORS_DECODER_KEYS
        loaded = load_authors_decoder(path)  # n_bits and resolution inferred from the shapes
        assert (loaded.n_bits, loaded.resolution) == (n_bits, resolution) and not loaded.training
        x = images(resolution)
        with torch.no_grad():
            assert torch.equal(loaded(x), decoder(x))

    def test_encoder_keys_and_identical_outputs(self, tmp_path):
        encoder = make_encoder()
        path = saved(tmp_path, encoder, "exp_encoder.pth")
        assert set(torch.load(path, weights_only=True)) == AUTHORS_ENCODER_KEYS
        loaded = load_authors_encoder(path, resolution=32, n_bits=48)
        assert (loaded.n_bits, loaded.resolution, loaded.output) == (48, 32, "sigmoid")
        bits = torch.randint(0, 2, (2, 48), generator=torch.Generator().manual_seed(4)).float()
        x = images(32)
        with torch.no_grad():
            assert torch.equal(loaded(x, bits), encoder(x, bits))

    def test_decoder_file_reads_fpbench_safetensors(self, tmp_path):
        models = FingerprintModels(make_encoder(), make_decoder())
        path = save_models(models, tmp_path / "fp.safetensors")
        loaded = load_decoder_file(path, n_bits=48, resolution=32)
        x = images(32)
        with torch.no_grad():
            assert torch.equal(loaded(x), models.decoder(x))

    @pytest.mark.parametrize("suffix", [".pth", ".bin"])
    def test_decoder_file_reads_authors_torch_file(self, tmp_path, suffix):
        decoder = make_decoder()
        loaded = load_decoder_file(saved(tmp_path, decoder, f"d{suffix}"), n_bits=48, resolution=32)
        with torch.no_grad():
            assert torch.equal(loaded(images(32)), decoder(images(32)))

    def test_decoder_file_reads_decoder_only_safetensors(self, tmp_path):
        decoder = make_decoder()
        path = tmp_path / "dec.safetensors"
        save_file({k: v.contiguous() for k, v in decoder.state_dict().items()}, str(path))
        loaded = load_decoder_file(path, n_bits=48, resolution=32)
        with torch.no_grad():
            assert torch.equal(loaded(images(32)), decoder(images(32)))


class TestAuthorsErrors:
    def test_text_file(self, tmp_path):
        path = tmp_path / "notes_decoder.pth"
        path.write_text("not a checkpoint\n")
        with pytest.raises(CheckpointError, match=r"notes_decoder\.pth is not a PyTorch checkpoint"):
            load_authors_decoder(path)

    @pytest.mark.parametrize("zip_format", [True, False])  # torch.save's format since 1.6, and the legacy one
    def test_pickled_module(self, tmp_path, zip_format):
        path = tmp_path / "whole.pth"
        torch.save(make_decoder(), path, _use_new_zipfile_serialization=zip_format)
        with pytest.raises(CheckpointError, match=r"pickled.*model\.state_dict\(\)"):
            load_authors_decoder(path)

    def test_wrapped_dict_is_not_a_state_dict(self, tmp_path):
        path = tmp_path / "wrapped.pth"
        torch.save({"state_dict": to_authors_state_dict(make_decoder()), "step": 5}, path)
        with pytest.raises(CheckpointError, match=r"'state_dict'.*not a state dict of tensors"):
            load_authors_decoder(path)

    def test_encoder_given_as_decoder(self, tmp_path):
        path = saved(tmp_path, make_encoder(), "e.pth")
        with pytest.raises(CheckpointError, match="this is an encoder checkpoint"):
            load_authors_decoder(path)
        with pytest.raises(CheckpointError, match="this is an encoder checkpoint"):
            load_decoder_file(path, n_bits=48, resolution=32)

    def test_decoder_given_as_encoder(self, tmp_path):
        path = saved(tmp_path, make_decoder(), "d.pth")
        with pytest.raises(CheckpointError, match="this is a decoder checkpoint"):
            load_authors_encoder(path, resolution=32)

    def test_n_bits_mismatch(self, tmp_path):
        with pytest.raises(CheckpointError, match=r"48-bit .* but 64 bits were expected"):
            load_authors_decoder(saved(tmp_path, make_decoder(), "d.pth"), n_bits=64)
        with pytest.raises(CheckpointError, match=r"48-bit .* but 64 bits were expected"):
            load_authors_encoder(saved(tmp_path, make_encoder(), "e.pth"), resolution=32, n_bits=64)

    def test_resolution_mismatch(self, tmp_path):
        path = saved(tmp_path, make_decoder(48, 32), "d.pth")
        with pytest.raises(CheckpointError, match=r"32x32 images .* but 128x128 was expected"):
            load_authors_decoder(path, resolution=128)

    def test_missing_key(self, tmp_path):
        state = to_authors_state_dict(make_decoder())
        del state["decoder.6.bias"]
        torch.save(state, tmp_path / "d.pth")
        with pytest.raises(CheckpointError, match=r"missing \['decoder\.6\.bias'\]"):
            load_authors_decoder(tmp_path / "d.pth")

    def test_wrong_shape_names_the_key(self, tmp_path):
        state = to_authors_state_dict(make_decoder())
        state["decoder.0.weight"] = torch.zeros(32, 1, 3, 3)  # a single-channel (grey) model
        torch.save(state, tmp_path / "d.pth")
        with pytest.raises(CheckpointError, match=r"decoder\.0\.weight \(32, 1, 3, 3\)"):
            load_authors_decoder(tmp_path / "d.pth")

    def test_export_refuses_what_the_authors_cannot_run(self):
        with pytest.raises(ValueError, match="output='residual'"):
            to_authors_state_dict(FingerprintEncoder(8, 32, output="residual"))
        with pytest.raises(ValueError, match="16x16"):
            to_authors_state_dict(FingerprintDecoder(8, 16))

    def test_unknown_suffix(self, tmp_path):
        with pytest.raises(CheckpointError, match=r"'\.onnx'.*\.pth, \.pt, \.bin, \.safetensors"):
            load_decoder_file(tmp_path / "d.onnx", n_bits=48, resolution=32)
