"""lora_finetuning: only a rank-r change per layer, merged into a plain generator."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from fpbench.attacks.model.layers import TARGET_LAYERS
from fpbench.attacks.model.lora import RANK, lora_finetuning


def _rank(after: torch.Tensor, before: torch.Tensor) -> int:
    """Rank of the weight change as a ``shape[0] x rest`` matrix, ignoring float32 rounding: singular values
    below the spectral norm a rounding error of one ulp per entry can have count as zero."""
    delta = (after.double() - before.double()).reshape(before.shape[0], -1)
    ulp = torch.finfo(torch.float32).eps * float(after.abs().max())
    return int(torch.linalg.matrix_rank(delta, atol=2 * ulp * delta.numel() ** 0.5))


def _fast(config):
    """A learning rate at which a few steps move the weights well above float32 rounding."""
    return dataclasses.replace(config, lr_g=1e-2)


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{name}.weight": m.weight.detach().clone() for name, m in model.named_modules()
            if isinstance(m, TARGET_LAYERS)}


class TestLoraFinetuning:
    @pytest.mark.parametrize("rank", [1, RANK])
    def test_each_weight_changes_by_a_matrix_of_rank_at_most_r(self, gan, rank):
        G, D, data, config = gan
        before = _weights(G)
        out = lora_finetuning(G, 3, seed=0, data=data, gan_config=_fast(config), discriminator=D, rank=rank)
        after = _weights(out)
        assert before.keys() == after.keys()
        for key, w in before.items():
            assert min(w.shape[0], w[0].numel()) > RANK, "the toy must be able to show a full-rank change"
            assert not torch.equal(after[key], w), key
            assert _rank(after[key], w) <= rank, key

    def test_full_finetuning_is_not_low_rank(self, gan):
        """The rank check above can fail: plain fine-tuning changes a weight with a full-rank matrix."""
        from fpbench.attacks.model.finetuning import finetuning

        G, D, data, config = gan
        w = G.net[3].weight.detach().clone()
        after = finetuning(G, 3, seed=0, data=data, gan_config=_fast(config), discriminator=D).net[3].weight
        assert _rank(after.detach(), w) > RANK

    def test_biases_and_norm_affine_stay_and_result_is_plain(self, gan, toy):
        G, D, data, config = gan
        before = toy.state(G)
        out = lora_finetuning(G, 2, seed=0, data=data, gan_config=config, discriminator=D)
        after = toy.state(out)
        assert after.keys() == before.keys()
        frozen = [k for k in before if k.endswith("bias") or (k.endswith("weight") and before[k].dim() == 1)]
        assert frozen and all(torch.equal(after[k], before[k]) for k in frozen)
        assert not any(parametrize.is_parametrized(m) for m in out.modules())
        assert type(out) is type(G) and not out.training and not any(p.requires_grad for p in out.parameters())

    def test_zero_steps_is_an_unchanged_copy_and_input_untouched(self, gan, toy):
        G, D, data, config = gan
        before, d0, x0 = toy.state(G), toy.state(D), data.clone()
        out = lora_finetuning(G, 0, seed=0, data=data, gan_config=config, discriminator=D)
        assert out is not G and toy.same(toy.state(out), before)
        lora_finetuning(G, 2, seed=0, data=data, gan_config=config, discriminator=D)
        assert toy.same(toy.state(G), before) and toy.same(toy.state(D), d0) and torch.equal(data, x0)

    def test_seeded(self, gan, toy):
        G, D, data, config = gan
        a, b, c = (toy.state(lora_finetuning(G, 2, seed=s, data=data, gan_config=config, discriminator=D))
                   for s in (1, 1, 2))
        assert toy.same(a, b) and not toy.same(a, c)

    def test_bad_inputs_name_the_fix(self, gan):
        G, D, data, config = gan
        with pytest.raises(ValueError, match="rank must be an int >= 1"):
            lora_finetuning(G, 2, data=data, gan_config=config, rank=0)
        with pytest.raises(ValueError, match="needs clean real images in context: data="):
            lora_finetuning(G, 2, gan_config=config)
        with pytest.raises(ValueError, match="lora_finetuning needs the model's training config in context"):
            lora_finetuning(G, 2, data=data)
