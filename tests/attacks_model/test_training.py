"""The training glue of model attacks: ``train_gan(trainable=...)`` and the shared helpers."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fpbench.attacks.model.training import fresh_generator, restore_frozen, train_generator
from fpbench.generators import train_gan

LAST = ("net.6.weight", "net.6.bias")


class TestTrainableParameters:
    def test_only_the_chosen_parameters_change(self, gan, toy):
        G, D, data, config = gan
        before = toy.state(G)
        res = train_gan(data, dataclasses.replace(config, steps=3), generator=G, discriminator=D, progress=False,
                        trainable=set(LAST))
        for net in (res.generator, res.online_generator):
            params = dict(net.named_parameters())
            assert all(not torch.equal(params[k], before[k]) for k in LAST)
            assert all(torch.equal(p, before[k]) for k, p in params.items() if k not in LAST)

    def test_a_predicate_and_a_set_select_the_same(self, gan, toy):
        G, D, data, config = gan
        a = train_generator(G, 2, seed=0, data=data, gan_config=config, trainable=set(LAST))
        b = train_generator(G, 2, seed=0, data=data, gan_config=config, trainable=lambda n: n.startswith("net.6."))
        assert toy.same(toy.state(a), toy.state(b))

    def test_every_parameter_is_the_default(self, gan, toy):
        G, D, data, config = gan
        everything = {n for n, _ in G.named_parameters()}
        a = train_generator(G, 2, seed=0, data=data, gan_config=config)
        b = train_generator(G, 2, seed=0, data=data, gan_config=config, trainable=everything)
        assert toy.same(toy.state(a), toy.state(b))

    @pytest.mark.parametrize(("trainable", "message"), [
        ({"net.9.weight"}, "trainable names parameters the generator does not have"),
        (set(), "selects no generator parameter"),
        (lambda name: False, "selects no generator parameter"),
    ])
    def test_bad_selection_is_a_clear_error(self, gan, trainable, message):
        G, D, data, config = gan
        with pytest.raises(ValueError, match=message):
            train_generator(G, 1, seed=0, data=data, gan_config=config, trainable=trainable)

    def test_one_string_is_refused(self, gan):
        G, D, data, config = gan
        with pytest.raises(TypeError, match="not one string"):
            train_generator(G, 1, seed=0, data=data, gan_config=config, trainable="net.6.weight")


class TestHelpers:
    def test_train_generator_keeps_the_input_and_its_flags(self, gan, toy):
        G, D, data, config = gan
        before = toy.state(G)
        out = train_generator(G, 2, seed=0, data=data, gan_config=config)
        assert toy.same(toy.state(G), before) and not any(p.requires_grad for p in out.parameters())
        G.requires_grad_(True)
        assert all(p.requires_grad for p in train_generator(G, 1, seed=0, data=data, gan_config=config).parameters())

    def test_restore_frozen_copies_everything_outside_the_modules(self, toy):
        a, b = toy.make(0), toy.make(1)
        out = restore_frozen(b, a, ["3", "4"])
        sa, sb, so = toy.state(a), toy.state(toy.make(1)), toy.state(out)
        assert all(torch.equal(so[k], sb[k] if k.startswith(("3.", "4.")) else sa[k]) for k in so)

    def test_fresh_generator_refuses_a_config_of_another_shape(self, gan):
        G, _, _, config = gan
        with pytest.raises(ValueError, match="pass the config the model was trained with"):
            fresh_generator(G, dataclasses.replace(config, width=4), 0, "attack")
