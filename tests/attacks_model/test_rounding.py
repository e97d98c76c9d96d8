"""weight_rounding: values carry at most d decimals, matching an independent decimal rounding."""

from __future__ import annotations

import decimal

import pytest
import torch

from fpbench.attacks.model.rounding import weight_rounding


class TestWeightRounding:
    @pytest.mark.parametrize("decimals", [5, 3, 1, 0])
    def test_values_have_d_decimals(self, toy, generator, decimals):
        after = toy.state(weight_rounding(generator, decimals))
        for k in toy.target_keys:
            scaled = after[k].double() * 10**decimals
            assert torch.allclose(scaled, scaled.round(), atol=1e-6 * 10**decimals + 1e-3), k

    def test_matches_python_decimal_rounding(self, generator):
        w = generator[6].weight.detach().flatten()[:50].double()
        after = weight_rounding(generator, 2)[6].weight.detach().flatten()[:50].double()
        ref = [
            float(decimal.Decimal(repr(float(torch.tensor(v, dtype=torch.float32)))).quantize(
                decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_EVEN))
            for v in w.tolist()
        ]
        assert torch.allclose(after, torch.tensor(ref, dtype=torch.float64), atol=1e-6)

    def test_zero_decimals_gives_integers_and_norm_layers_kept(self, toy, generator):
        before = toy.state(generator)
        after = toy.state(weight_rounding(generator, 0))
        assert all(torch.equal(after[k], after[k].round()) for k in toy.target_keys)
        assert all(torch.equal(after[k], before[k]) for k in toy.norm_keys)

    def test_fine_rounding_moves_weights_by_at_most_half_a_unit(self, toy, generator):
        before = toy.state(generator)
        after = toy.state(weight_rounding(generator, 4))
        for k in toy.target_keys:
            assert (after[k] - before[k]).abs().max().item() <= 0.5e-4 + 1e-7

    @pytest.mark.parametrize("bad", [-1, 1.5])
    def test_bad_decimals_rejected(self, generator, bad):
        with pytest.raises(ValueError, match="decimals must be an integer"):
            weight_rounding(generator, bad)
