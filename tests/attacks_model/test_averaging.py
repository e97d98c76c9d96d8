"""weight_averaging: endpoints exact, midpoint is the mean, architecture checked."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fpbench.attacks.model.averaging import model_soup, weight_averaging


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


class TestModelSoup:
    """model_soup is weight_averaging's interpolation toward a clean generator, alpha up to the mean."""

    @pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5])
    def test_hand_computed_lerp(self, toy, generator, other_generator, alpha):
        a, b = toy.state(generator), toy.state(other_generator)
        after = toy.state(model_soup(generator, alpha, clean_model=other_generator))
        for k, v in after.items():
            if v.is_floating_point():
                assert torch.allclose(v, a[k] + alpha * (b[k] - a[k]), atol=1e-6), k
            else:
                assert torch.equal(v, a[k]), k  # num_batches_tracked: the nearer endpoint (0.5 keeps mine)
        assert toy.same(toy.state(other_generator), b) and toy.same(toy.state(generator), a)

    def test_same_numbers_as_weight_averaging(self, toy, generator, other_generator):
        assert toy.same(toy.state(model_soup(generator, 0.25, clean_model=other_generator)),
                        toy.state(weight_averaging(generator, 0.25, other_model=other_generator)))

    def test_missing_clean_model_is_a_clear_error(self, generator):
        with pytest.raises(ValueError, match="model_soup needs a clean generator of the same architecture in "
                                             "context: clean_model="):
            model_soup(generator, 0.5)

    def test_alpha_beyond_the_mean_is_rejected(self, generator, other_generator):
        with pytest.raises(ValueError, match=r"alpha must be in \[0, 0.5\]"):
            model_soup(generator, 0.75, clean_model=other_generator)

    def test_different_architecture_names_the_field(self, toy, generator):
        with pytest.raises(ValueError, match="clean_model has a different architecture"):
            model_soup(generator, 0.5, clean_model=toy.make(0, width=8))
