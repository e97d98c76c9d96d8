"""fpbench.fingerprint.nets: shapes, ranges, resolution checks, the paper's parameter count."""

from __future__ import annotations

import pytest
import torch

from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder, check_resolution, initialise

RESOLUTIONS = [16, 32, 64]


def conv(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k * k + c_out


def paper_encoder_params(n_bits: int) -> int:
    """Parameter count of the encoder as PAPER.md describes it (authors' StegaStamp-derived code)."""
    dense = n_bits * 3 * 16 * 16 + 3 * 16 * 16
    down = conv(6, 32, 3) + conv(32, 32, 3) + conv(32, 64, 3) + conv(64, 128, 3) + conv(128, 256, 3)
    up = conv(256, 128, 2) + conv(128, 64, 2) + conv(64, 32, 2) + conv(32, 32, 2)
    merge = conv(256, 128, 3) + conv(128, 64, 3) + conv(64, 32, 3) + conv(70, 32, 3)
    return dense + down + up + merge + conv(32, 32, 3) + conv(32, 3, 1)


def inputs(resolution: int, n_bits: int = 24, batch: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, 3, resolution, resolution, generator=g),
            torch.randint(0, 2, (batch, n_bits), generator=g).float())


class TestEncoder:
    @pytest.mark.parametrize("output", ["sigmoid", "residual"])
    @pytest.mark.parametrize("resolution", RESOLUTIONS)
    def test_shape_and_range(self, resolution, output):
        enc = FingerprintEncoder(24, resolution, output)
        initialise(enc)
        x, bits = inputs(resolution)
        with torch.no_grad():
            y = enc(x, bits)
        assert y.shape == x.shape and y.dtype == torch.float32
        assert y.min() >= 0 and y.max() <= 1

    def test_parameter_count_matches_paper(self):
        enc = FingerprintEncoder(100, 128)
        count = sum(p.numel() for p in enc.parameters())
        assert count == paper_encoder_params(100)
        assert count == pytest.approx(1.07e6, rel=0.01)  # "about 1.07 M parameters"

    @pytest.mark.parametrize("resolution", [16, 64])
    def test_residual_is_identity_when_last_layer_is_zero(self, resolution):
        enc = FingerprintEncoder(24, resolution, "residual")
        initialise(enc)
        torch.nn.init.zeros_(enc.to_rgb.weight)
        torch.nn.init.zeros_(enc.to_rgb.bias)
        x, bits = inputs(resolution)
        with torch.no_grad():
            assert torch.equal(enc(x, bits), x)

    def test_sigmoid_head_is_one_half_when_last_layer_is_zero(self):
        enc = FingerprintEncoder(24, 32, "sigmoid")
        torch.nn.init.zeros_(enc.to_rgb.weight)
        torch.nn.init.zeros_(enc.to_rgb.bias)
        x, bits = inputs(32)
        with torch.no_grad():
            assert torch.equal(enc(x, bits), torch.full_like(x, 0.5))

    def test_output_depends_on_bits(self):
        enc = FingerprintEncoder(24, 32)
        initialise(enc)
        x, bits = inputs(32)
        with torch.no_grad():
            assert not torch.allclose(enc(x, bits), enc(x, 1 - bits))

    def test_unknown_output_mode(self):
        with pytest.raises(ValueError, match="output must be one of"):
            FingerprintEncoder(24, 32, "tanh")


class TestDecoder:
    @pytest.mark.parametrize("resolution", RESOLUTIONS)
    def test_logits_shape(self, resolution):
        dec = FingerprintDecoder(24, resolution)
        initialise(dec)
        x, _ = inputs(resolution, batch=5)
        with torch.no_grad():
            logits = dec(x)
        assert logits.shape == (5, 24) and logits.dtype == torch.float32
        assert (logits > 0).any() and (logits < 0).any()

    @pytest.mark.parametrize(("resolution", "flat"), [(16, 128), (32, 128), (64, 512), (128, 2048)])
    def test_flatten_width(self, resolution, flat):
        """(R/32)^2 * 128 wide; 128 at R=32 (PAPER.md)."""
        assert FingerprintDecoder(8, resolution).dense[0].in_features == flat


class TestResolutionAndInit:
    @pytest.mark.parametrize("resolution", [0, 8, 15, 24, 48, 100, -32])
    @pytest.mark.parametrize("cls", [FingerprintEncoder, FingerprintDecoder])
    def test_bad_resolutions_raise(self, cls, resolution):
        with pytest.raises(ValueError, match=f"power of two >= 16, got {resolution}"):
            cls(8, resolution)

    @pytest.mark.parametrize("resolution", [16, 32, 256])
    def test_good_resolutions(self, resolution):
        assert check_resolution(resolution) == resolution

    def test_kaiming_init_zeroes_biases(self):
        dec = FingerprintDecoder(8, 32)
        initialise(dec, "kaiming")
        assert all(torch.count_nonzero(m.bias) == 0 for m in dec.modules() if isinstance(m, torch.nn.Conv2d))

    def test_pytorch_init_leaves_weights(self):
        dec = FingerprintDecoder(8, 32)
        before = {k: v.clone() for k, v in dec.state_dict().items()}
        initialise(dec, "pytorch")
        assert all(torch.equal(before[k], v) for k, v in dec.state_dict().items())

    def test_unknown_init(self):
        with pytest.raises(ValueError, match="init must be one of"):
            initialise(FingerprintDecoder(8, 32), "xavier")
