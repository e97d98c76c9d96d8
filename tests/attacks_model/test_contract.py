"""Contract every model attack keeps: pure (input untouched), new plain module, neutral is a no-op,
seeded, checked parameters, a clear error for non-models."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from fpbench.attacks.context import AttackContext
from fpbench.attacks.registry import KNOWLEDGE, AttackKind, ThreatCard, get_attack, load_all

MODEL_IDS = sorted(i for i, s in load_all().items() if s.kind is AttackKind.MODEL)
LATENT, OUT_SHAPE = 8, (2, 3, 8, 8)


def context_for(attack_id: str, toy) -> AttackContext:
    """One context for every attack, as the model-attack stage builds it (each attack takes only the fields
    it declared); ``subject`` picks the model an attack is tried on."""
    from fpbench.generators import GanConfig, build

    torch.manual_seed(1)
    return AttackContext(data=torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8),
                         gan_config=GanConfig(resolution=16, width=4, latent_dim=LATENT, batch_size=4),
                         discriminator=build("dcgan", 16, LATENT, 4)[1], other_model=toy.make(1),
                         clean_model=toy.make(2))


#: attacks that train a fpbench generator (they need its training config, so a tiny 16x16 DCGAN)
TRAINED = ("finetuning", "lora_finetuning", "distillation", "fine_pruning", "finetune_last_layers",
           "retrain_last_layers")
#: keyword arguments that shorten an attack's fixed training for these tests (time)
SHORT = {"fine_pruning": {"finetune_steps": 2}}


def subject(attack_id: str, toy) -> tuple[nn.Module, tuple[int, ...]]:
    """The model an attack is tried on and its output shape for a batch of 2 latents: the toy generator,
    or (for the attacks that train, which need a fpbench generator) a tiny 16x16 DCGAN."""
    if attack_id in TRAINED:
        from fpbench.generators import build

        torch.manual_seed(0)
        return build("dcgan", 16, LATENT, 4)[0], (2, 3, 16, 16)
    return toy.make(0), OUT_SHAPE


def levels(attack_id: str, spec) -> tuple:
    """Grid values to try: the whole grid, except a few training steps for the step-counted attacks (time)."""
    if attack_id in TRAINED and spec.param == "steps":
        return (0, 2)
    return spec.grid


def attack(spec, model, value, *, seed, context):
    """``spec`` at ``value``, its fixed training shortened as :data:`SHORT` says."""
    return spec(model, value, seed=seed, context=context, **SHORT.get(spec.id, {}))


def test_model_attacks_exist():
    assert len(MODEL_IDS) >= 15


@pytest.mark.parametrize("attack_id", MODEL_IDS)
class TestModelAttackContract:
    def test_input_untouched_and_result_is_new_plain_module(self, attack_id, toy):
        spec = get_attack(attack_id)
        g, out_shape = subject(attack_id, toy)
        before = toy.state(g)
        ctx = context_for(attack_id, toy)
        for value in levels(attack_id, spec):
            out = attack(spec, g, value, seed=3, context=ctx)
            assert isinstance(out, nn.Module) and out is not g
            assert out.state_dict().keys() == before.keys()
            assert all(not m._forward_pre_hooks for m in out.modules()), "pruning hooks left behind"
            assert all(a.data_ptr() != b.data_ptr() for a, b in zip(out.parameters(), g.parameters(), strict=True))
            with torch.no_grad():
                assert out.eval()(torch.randn(2, LATENT)).shape == out_shape
        assert toy.same(toy.state(g), before)

    def test_neutral_is_identity(self, attack_id, toy):
        spec = get_attack(attack_id)
        if spec.neutral is None:
            pytest.skip(f"{attack_id} has no neutral value")
        assert spec.grid[0] == spec.neutral, "grids start at the weakest level"
        g, _ = subject(attack_id, toy)
        out = attack(spec, g, spec.neutral, seed=5, context=context_for(attack_id, toy))
        assert toy.same(toy.state(out), toy.state(g))

    def test_same_seed_same_result(self, attack_id, toy):
        spec = get_attack(attack_id)
        g, _ = subject(attack_id, toy)
        ctx = context_for(attack_id, toy)
        a = attack(spec, g, levels(attack_id, spec)[-1], seed=11, context=ctx)
        b = attack(spec, g, levels(attack_id, spec)[-1], seed=11, context=ctx)
        assert toy.same(toy.state(a), toy.state(b))

    def test_strongest_level_changes_the_model(self, attack_id, toy):
        spec = get_attack(attack_id)
        g, _ = subject(attack_id, toy)
        out = attack(spec, g, levels(attack_id, spec)[-1], seed=0, context=context_for(attack_id, toy))
        assert not toy.same(toy.state(out), toy.state(g))

    @pytest.mark.parametrize("not_a_model", [None, "images", torch.rand(2, 3, 8, 8)])
    def test_non_model_input_is_a_clear_error(self, attack_id, toy, not_a_model):
        spec = get_attack(attack_id)
        with pytest.raises(ValueError, match=r"model attacks need a callable generator \(an nn.Module\), not"):
            spec(not_a_model, spec.grid[-1], seed=0, context=context_for(attack_id, toy))

    def test_out_of_domain_values_are_rejected(self, attack_id, toy):
        spec = get_attack(attack_id)
        lo, hi = spec.domain
        for bad in (lo - 1, math.nan, hi + 1 if math.isfinite(hi) else None):
            if bad is None:
                continue
            with pytest.raises(ValueError, match=spec.param):
                spec(subject(attack_id, toy)[0], bad, seed=0, context=context_for(attack_id, toy))

    def test_registry_entry_is_consistent(self, attack_id):
        spec = get_attack(attack_id)
        assert spec.kind is AttackKind.MODEL
        assert spec.description and spec.unit and spec.category
        assert spec.check_grid(spec.grid) == spec.grid
        if spec.integer:
            assert all(isinstance(v, int) for v in spec.grid)

    def test_has_a_threat_card(self, attack_id):
        threat = get_attack(attack_id).threat
        assert isinstance(threat, ThreatCard), f"{attack_id}: register it with threat=ThreatCard(...)"
        assert threat.knowledge in KNOWLEDGE and threat.data and threat.compute and threat.quality

    def test_model_without_target_layers_is_a_clear_error(self, attack_id, toy):
        if attack_id in ("weight_averaging", "model_soup", "finetuning", "distillation"):
            pytest.skip(f"{attack_id} works on any state dict / needs a fpbench generator")
        spec = get_attack(attack_id)
        ctx = context_for(attack_id, toy)
        with pytest.raises(ValueError, match="no Conv/ConvTranspose/Linear layers"):
            spec(nn.Sequential(nn.ReLU()), spec.grid[-1], seed=0, context=ctx)


class TestOnFpbenchGenerators:
    """Every attack at its strongest level on the real (tiny) generator architectures: still a working
    generator with images in [0, 1], and a computed (spectral-norm) weight is a clear error."""

    @pytest.mark.parametrize("arch", ["dcgan", "resnet"])
    @pytest.mark.parametrize("attack_id", MODEL_IDS)
    def test_strongest_level_gives_a_working_generator(self, arch, attack_id):
        from fpbench.generators import GanConfig, build

        torch.manual_seed(0)
        g = build(arch, 16, LATENT, 4)[0].eval()
        ctx = AttackContext(other_model=build(arch, 16, LATENT, 4)[0], clean_model=build(arch, 16, LATENT, 4)[0],
                            data=torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8),
                            gan_config=GanConfig(arch=arch, resolution=16, width=4, latent_dim=LATENT, batch_size=4,
                                                 discriminator="dcgan"))
        spec = get_attack(attack_id)
        value = levels(attack_id, spec)[-1] if attack_id in TRAINED else spec.grid[-1]
        out = attack(spec, g, value, seed=0, context=ctx)
        with torch.no_grad():
            x = out.eval()(torch.randn(2, LATENT))
        assert x.shape == (2, 3, 16, 16) and torch.isfinite(x).all() and 0 <= x.min() and x.max() <= 1

    @pytest.mark.parametrize("attack_id", sorted(set(MODEL_IDS) - {"weight_averaging", "model_soup", *TRAINED}))
    def test_spectral_norm_weight_is_a_clear_error(self, attack_id):
        from torch.nn.utils.parametrizations import spectral_norm

        g = nn.Sequential(spectral_norm(nn.Conv2d(3, 3, 3)), nn.Conv2d(3, 3, 1))
        spec = get_attack(attack_id)
        with pytest.raises(ValueError, match="is computed"):
            spec(g, spec.grid[-1], seed=0)
