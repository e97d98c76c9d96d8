"""finetune_last_layers (FTLL) and retrain_last_layers (RTLL): frozen layers bit-identical, the last layers
trained (RTLL: from a new init)."""

from __future__ import annotations

import pytest
import torch

from fpbench.attacks.model.last_layers import LAST_LAYERS, finetune_last_layers, retrain_last_layers
from fpbench.attacks.model.training import last_layer_modules
from fpbench.generators import build

#: fpbench's 16x16 DCGAN: net.0 ConvT, net.1 BN, net.2 ReLU, net.3 ConvT, net.4 BN, net.5 ReLU, net.6 ConvT (RGB)
LAST = ("net.3.", "net.4.", "net.6.")
ATTACKS = [finetune_last_layers, retrain_last_layers]


def _split(state: dict) -> tuple[list[str], list[str]]:
    last = [k for k in state if k.startswith(LAST)]
    return last, [k for k in state if k not in last]


class TestWhichLayers:
    def test_dcgan_output_block(self):
        G = build("dcgan", 16, 8, 8)[0]
        assert last_layer_modules(G, LAST_LAYERS, "t") == ["net.3", "net.4", "net.5", "net.6"]
        assert last_layer_modules(G, 1, "t") == ["net.6"]

    def test_resnet_output_block(self):
        G = build("resnet", 16, 8, 4)[0]
        assert last_layer_modules(G, 1, "t") == ["to_rgb"]
        assert last_layer_modules(G, 2, "t")[-2:] == ["bn", "to_rgb"]

    def test_too_many_layers_is_a_clear_error(self, toy):
        with pytest.raises(ValueError, match="fewer than the last 4"):
            last_layer_modules(toy.make(0), 4, "t")


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda f: f.__name__)
class TestLastLayers:
    def test_frozen_layers_bit_identical_and_last_layers_trained(self, gan, toy, attack):
        G, D, data, config = gan
        before = toy.state(G)
        after = toy.state(attack(G, 3, seed=0, data=data, gan_config=config, discriminator=D))
        last, frozen = _split(before)
        assert frozen and all(torch.equal(after[k], before[k]) for k in frozen)
        for k in ("net.3.weight", "net.4.weight", "net.4.running_mean", "net.6.weight", "net.6.bias"):
            assert not torch.equal(after[k], before[k]), k
        assert toy.same(toy.state(G), before)

    def test_seeded_and_eval_mode(self, gan, toy, attack):
        G, D, data, config = gan
        a, b, c = (attack(G, 2, seed=s, data=data, gan_config=config) for s in (1, 1, 2))
        assert toy.same(toy.state(a), toy.state(b)) and not toy.same(toy.state(a), toy.state(c))
        assert not a.training and not any(p.requires_grad for p in a.parameters())

    def test_missing_data_names_the_fix(self, gan, attack):
        G, _, _, config = gan
        with pytest.raises(ValueError, match="needs clean real images in context: data="):
            attack(G, 2, gan_config=config)


class TestZeroSteps:
    def test_ftll_zero_steps_is_a_copy(self, gan, toy):
        G, D, data, config = gan
        out = finetune_last_layers(G, 0, seed=0, data=data, gan_config=config, discriminator=D)
        assert out is not G and toy.same(toy.state(out), toy.state(G))

    def test_rtll_zero_steps_is_the_fresh_init_of_the_last_layers(self, gan, toy):
        """RTLL at 0 steps: the last layers' weights are a fresh seeded build's, not trained; the rest is the
        input's."""
        G, D, data, config = gan
        before = toy.state(G)
        after = toy.state(retrain_last_layers(G, 0, seed=4, data=data, gan_config=config))
        torch.manual_seed(4)
        fresh = build("dcgan", 16, 8, 8)[0].state_dict()
        last, frozen = _split(before)
        assert all(torch.equal(after[k], before[k]) for k in frozen)
        learned = [k for k in last if "running" not in k and "num_batches" not in k]
        assert all(torch.equal(after[k], fresh[k]) for k in learned)
        assert not torch.equal(after["net.6.weight"], before["net.6.weight"])
        assert not torch.equal(after["net.4.running_var"], fresh["net.4.running_var"])  # recalibrated
