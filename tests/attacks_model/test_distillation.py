"""distillation: a student from a new init that learns the teacher's function from its outputs alone."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

from fpbench.attacks.model.distillation import distillation
from fpbench.attacks.registry import get_attack
from fpbench.generators import build, sample_latents


def _mse(a, b, z) -> float:
    with torch.no_grad():
        return float(torch.mean((a.eval()(z) - b.eval()(z)) ** 2))


class TestDistillation:
    def test_student_starts_from_a_new_seeded_init(self, gan, toy):
        G, _, _, config = gan
        s0, s0_again, s1 = (distillation(G, 0, seed=s, gan_config=config) for s in (3, 3, 4))
        assert toy.same(toy.state(s0), toy.state(s0_again)) and not toy.same(toy.state(s0), toy.state(s1))
        weights = [k for k, v in toy.state(G).items() if k.endswith("weight") and v.dim() == 4]
        assert all(not torch.equal(s0.state_dict()[k], G.state_dict()[k]) for k in weights)
        torch.manual_seed(3)  # the architecture's own init: the same weights as a fresh build from the seed
        fresh = build("dcgan", 16, 8, 8)[0]
        assert all(torch.equal(s0.state_dict()[k], fresh.state_dict()[k]) for k in weights)

    def test_toy_world_student_matches_a_teacher_it_can_represent(self, gan):
        """The teacher is in the student's function class, so the best student has error 0: after a few
        hundred steps the student's outputs are close to the teacher's on latents it never trained on."""
        _, _, _, config = gan
        config = dataclasses.replace(config, width=4, batch_size=16)
        torch.manual_seed(7)
        teacher = build("dcgan", 16, 8, 4)[0]
        with torch.no_grad():
            teacher.net[-1].bias.uniform_(-1, 1)  # colours far from the init's mid-grey
        z = sample_latents(64, 8, seed=99)
        start, student = distillation(teacher, 0, seed=0, gan_config=config), distillation(
            teacher, 400, seed=0, gan_config=config)
        before, after = _mse(start, teacher, z), _mse(student, teacher, z)
        assert after < 0.1 * before and after < 2e-3, (before, after)

    def test_never_uses_real_data_and_input_untouched(self, gan, toy):
        G, _, _, config = gan
        spec = get_attack("distillation")
        assert "data" not in spec.needs + spec.optional
        assert "data" not in inspect.signature(distillation).parameters
        before = toy.state(G)
        out = distillation(G, 2, seed=0, gan_config=config)
        assert toy.same(toy.state(G), before) and not out.training
        assert not any(p.requires_grad for p in out.parameters())

    def test_config_of_another_architecture_names_the_fix(self, gan):
        G, _, _, config = gan
        with pytest.raises(ValueError, match="pass the config the model was trained with"):
            distillation(G, 2, gan_config=dataclasses.replace(config, width=4))
        with pytest.raises(ValueError, match="distillation needs the model's training config in context"):
            distillation(G, 2)
        with pytest.raises(ValueError, match="steps must be an integer"):
            distillation(G, -1, gan_config=config)
