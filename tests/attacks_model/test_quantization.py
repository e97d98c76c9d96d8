"""weight_quantization (per tensor) and weight_quantization_per_channel, against PyTorch's fake-quant ops."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch

from fpbench.attacks.model.quantization import weight_quantization, weight_quantization_per_channel

BITS = [8, 6, 4, 3, 2]


class TestWeightQuantization:
    @pytest.mark.parametrize("bits", BITS)
    def test_at_most_2_pow_k_values_per_tensor(self, toy, generator, bits):
        after = toy.state(weight_quantization(generator, bits))
        for k in toy.target_keys:
            assert after[k].unique().numel() <= 2**bits - 1, k
        assert after["3.weight"].unique().numel() > 2 ** (bits - 1) - 1  # the grid is actually used

    @pytest.mark.parametrize("bits", BITS)
    def test_matches_torch_fake_quantize(self, generator, bits):
        w = generator[3].weight.detach()
        qmax = 2 ** (bits - 1) - 1
        ref = torch.fake_quantize_per_tensor_affine(w, w.abs().max().item() / qmax, 0, -qmax, qmax)
        got = weight_quantization(generator, bits)[3].weight.detach()
        assert torch.allclose(got, ref, atol=1e-7, rtol=0)

    def test_largest_weight_survives_and_norm_layers_kept(self, toy, generator):
        before = toy.state(generator)
        after = toy.state(weight_quantization(generator, 3))
        for k in toy.target_keys:
            assert after[k].abs().max().item() == pytest.approx(before[k].abs().max().item(), rel=1e-6)
        assert all(torch.equal(after[k], before[k]) for k in toy.norm_keys)

    def test_error_grows_as_bits_shrink(self, toy, generator):
        before = toy.state(generator)["3.weight"]
        errs = [(weight_quantization(generator, b)[3].weight.detach() - before).abs().mean() for b in BITS]
        assert all(a < b for a, b in pairwise(errs))

    def test_all_zero_tensor_stays_zero(self, generator):
        with torch.no_grad():
            generator[6].bias.zero_()
        assert torch.equal(weight_quantization(generator, 4)[6].bias, torch.zeros(3))

    @pytest.mark.parametrize("bad", [1, 17, 4.5, True])
    def test_bad_bits_rejected(self, generator, bad):
        with pytest.raises(ValueError, match="bits must be an integer"):
            weight_quantization(generator, bad)


class TestWeightQuantizationPerChannel:
    @pytest.mark.parametrize("bits", BITS)
    def test_at_most_2_pow_k_values_per_output_channel(self, generator, bits):
        out = weight_quantization_per_channel(generator, bits)
        for w, dim in ((out[0].weight, 0), (out[3].weight, 1), (out[6].weight, 0)):
            for channel in w.detach().unbind(dim):
                assert channel.unique().numel() <= 2**bits - 1

    @pytest.mark.parametrize("bits", [8, 4, 2])
    def test_matches_torch_per_channel_fake_quantize(self, generator, bits):
        qmax = 2 ** (bits - 1) - 1
        out = weight_quantization_per_channel(generator, bits)
        for idx, dim in ((0, 0), (3, 1), (6, 0)):  # transposed conv: output channels on dim 1
            w = generator[idx].weight.detach()
            other = [d for d in range(w.dim()) if d != dim]
            scale = w.abs().amax(dim=other) / qmax
            ref = torch.fake_quantize_per_channel_affine(
                w, scale, torch.zeros_like(scale, dtype=torch.int32), dim, -qmax, qmax)
            assert torch.allclose(out[idx].weight.detach(), ref, atol=1e-7, rtol=0), idx

    def test_every_channel_keeps_its_own_maximum(self, generator):
        w = generator[3].weight.detach()
        got = weight_quantization_per_channel(generator, 2)[3].weight.detach()
        assert torch.allclose(got.abs().amax(dim=(0, 2, 3)), w.abs().amax(dim=(0, 2, 3)), rtol=1e-6)

    def test_finer_than_per_tensor(self, generator):
        with torch.no_grad():
            generator[3].weight[:, 0] *= 20  # one loud channel ruins a per-tensor scale
            w = generator[3].weight.detach().clone()
        per_tensor = (weight_quantization(generator, 4)[3].weight.detach() - w).abs().mean()
        per_channel = (weight_quantization_per_channel(generator, 4)[3].weight.detach() - w).abs().mean()
        assert per_channel < per_tensor

    def test_bias_quantised_per_tensor_and_norm_layers_kept(self, toy, generator):
        before = toy.state(generator)
        after = toy.state(weight_quantization_per_channel(generator, 2))
        assert after["3.bias"].unique().numel() <= 3
        assert all(torch.equal(after[k], before[k]) for k in toy.norm_keys)

    def test_bad_bits_rejected(self, generator):
        with pytest.raises(ValueError, match="bits must be an integer"):
            weight_quantization_per_channel(generator, 0)
