"""weight_noise and weight_noise_relative: measured noise matches the request, seeded, norm layers kept."""

from __future__ import annotations

import pytest
import torch

from fpbench.attacks.model.noise import weight_noise, weight_noise_relative


def _deltas(toy, before, after, keys):
    return {k: (after[k] - before[k]) for k in keys}


class TestWeightNoise:
    @pytest.mark.parametrize("std", [0.06, 0.3])
    def test_measured_std_matches_request(self, toy, generator, std):
        before = toy.state(generator)
        after = toy.state(weight_noise(generator, std, seed=1))
        delta = torch.cat([d.flatten() for d in _deltas(toy, before, after, toy.target_keys).values()])
        assert delta.numel() > 10_000
        assert delta.std().item() == pytest.approx(std, rel=0.03)
        assert delta.mean().item() == pytest.approx(0.0, abs=3 * std / delta.numel() ** 0.5 + 1e-6)

    def test_every_weight_and_bias_moves_norm_layers_do_not(self, toy, generator):
        before = toy.state(generator)
        after = toy.state(weight_noise(generator, 0.1, seed=1))
        for k in toy.target_keys:
            assert (after[k] != before[k]).all(), k
        for k in toy.norm_keys:
            assert torch.equal(after[k], before[k]), k

    def test_seeds_differ_and_repeat(self, toy, generator):
        a, b, c = (toy.state(weight_noise(generator, 0.1, seed=s)) for s in (1, 1, 2))
        assert toy.same(a, b)
        assert not torch.equal(a["6.weight"], c["6.weight"])

    def test_global_torch_rng_is_not_used_or_advanced(self, toy, generator):
        torch.manual_seed(123)
        expected = torch.rand(3)
        torch.manual_seed(123)
        weight_noise(generator, 0.1, seed=1)
        assert torch.equal(torch.rand(3), expected)

    def test_negative_std_is_rejected(self, generator):
        with pytest.raises(ValueError, match="std must be >= 0"):
            weight_noise(generator, -0.1)


class TestWeightNoiseRelative:
    @pytest.mark.parametrize("ratio", [0.1, 1.0])
    def test_noise_std_is_ratio_of_each_tensor_std(self, toy, generator, ratio):
        before = toy.state(generator)
        after = toy.state(weight_noise_relative(generator, ratio, seed=4))
        for k in ("0.weight", "3.weight"):  # large enough tensors to measure
            measured = (after[k] - before[k]).std().item()
            assert measured == pytest.approx(ratio * before[k].std(correction=0).item(), rel=0.05), k

    def test_constant_tensor_is_unchanged(self, toy, generator):
        with torch.no_grad():
            generator[6].bias.zero_()
        after = weight_noise_relative(generator, 0.5, seed=0)
        assert torch.equal(after[6].bias, torch.zeros(3))
        assert not torch.equal(after[6].weight, generator[6].weight)

    def test_norm_layers_untouched(self, toy, generator):
        before = toy.state(generator)
        after = toy.state(weight_noise_relative(generator, 0.5, seed=0))
        assert all(torch.equal(after[k], before[k]) for k in toy.norm_keys)

    def test_seeds_differ_and_repeat(self, toy, generator):
        a, b, c = (toy.state(weight_noise_relative(generator, 0.2, seed=s)) for s in (7, 7, 8))
        assert toy.same(a, b)
        assert not torch.equal(a["0.weight"], c["0.weight"])

    def test_negative_ratio_is_rejected(self, generator):
        with pytest.raises(ValueError, match="std_fraction must be >= 0"):
            weight_noise_relative(generator, -1.0)
