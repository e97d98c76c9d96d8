"""weight_averaging: endpoints exact, midpoint is the mean, architecture checked."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fpbench.attacks.model.averaging import weight_averaging


class TestWeightAveraging:
    def test_alpha_0_and_1_are_the_endpoints(self, toy, generator, other_generator):
        assert toy.same(toy.state(weight_averaging(generator, 0.0, other_model=other_generator)), toy.state(generator))
        assert toy.same(
            toy.state(weight_averaging(generator, 1.0, other_model=other_generator)), toy.state(other_generator)
        )

    @pytest.mark.parametrize("alpha", [0.25, 0.5, 0.75])
    def test_interpolates_every_float_entry(self, toy, generator, other_generator, alpha):
        a, b = toy.state(generator), toy.state(other_generator)
        after = toy.state(weight_averaging(generator, alpha, other_model=other_generator))
        for k, v in after.items():
            if v.is_floating_point():
                assert torch.allclose(v, (1 - alpha) * a[k] + alpha * b[k], atol=1e-6), k

    def test_half_is_the_mean_and_other_untouched(self, toy, generator, other_generator):
        b = toy.state(other_generator)
        after = toy.state(weight_averaging(generator, 0.5, other_model=other_generator))
        assert torch.allclose(after["3.weight"], (generator[3].weight + other_generator[3].weight) / 2)
        assert toy.same(toy.state(other_generator), b)

    def test_missing_other_is_a_clear_error(self, generator):
        with pytest.raises(ValueError, match="needs the second model in context: other_model="):
            weight_averaging(generator, 0.5)

    def test_other_not_a_module(self, generator):
        with pytest.raises(ValueError, match="other_model must be an nn.Module"):
            weight_averaging(generator, 0.5, other_model=torch.zeros(3))

    def test_different_shape_is_a_clear_error(self, toy, generator):
        wider = toy.make(0, width=8)
        with pytest.raises(ValueError, match=r"different architecture: 0.weight is \(512, 8\)"):
            weight_averaging(generator, 0.5, other_model=wider)

    def test_different_keys_is_a_clear_error(self, generator):
        with pytest.raises(ValueError, match="different architecture .state-dict keys"):
            weight_averaging(generator, 0.5, other_model=nn.Sequential(nn.Linear(8, 4)))

    def test_bad_alpha_rejected(self, generator, other_generator):
        with pytest.raises(ValueError, match="alpha must be in"):
            weight_averaging(generator, 1.5, other_model=other_generator)
