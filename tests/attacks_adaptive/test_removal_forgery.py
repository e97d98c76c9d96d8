"""Contract and behaviour of the image-producing adaptive attacks (removal and forgery)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fpbench.attacks.adaptive.pgd import pgd_scramble
from fpbench.attacks.context import AttackContext
from fpbench.attacks.registry import AttackKind, get_attack, load_all
from fpbench.fingerprint.matching import bit_accuracy

IMAGE_ATTACKS = sorted(i for i, s in load_all().items()
                       if s.kind is AttackKind.ADAPTIVE and s.category in ("removal", "forgery"))
SEEDED = ("surrogate_pgd", "whitebox_pgd", "regeneration", "averaging", "forgery_surrogate", "forgery_copy",
          "overwrite")


def _value(spec) -> float:
    if spec.param == "n_samples":  # the fixture's pool holds 40 images
        return spec.grid[0]
    return spec.grid[-1] if spec.grid[-1] != spec.neutral else spec.grid[0]


@pytest.fixture
def context(adversary_tools, trained_decoder) -> AttackContext:
    """One context for every attack, as a stage builds it: each attack takes only what it declared."""
    return AttackContext(**adversary_tools, victim_decoder=trained_decoder)


class TestContract:
    @pytest.mark.parametrize("attack_id", IMAGE_ATTACKS)
    def test_shape_range_and_input_untouched(self, attack_id, images, context):
        spec = get_attack(attack_id)
        before = images.clone()
        pool = context.pool.clone()
        out = spec(images, _value(spec), seed=3, context=context)
        assert out.shape == images.shape and out.dtype == images.dtype
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
        assert torch.equal(images, before)
        assert torch.equal(context.pool, pool)

    @pytest.mark.parametrize("attack_id", IMAGE_ATTACKS)
    def test_seeded_reproducibility(self, attack_id, images, context):
        spec = get_attack(attack_id)
        a = spec(images, _value(spec), seed=7, context=context)
        b = spec(images, _value(spec), seed=7, context=context)
        assert torch.equal(a, b)

    @pytest.mark.parametrize("attack_id", ["surrogate_pgd", "whitebox_pgd", "regeneration", "averaging"])
    def test_seed_matters(self, attack_id, images, context):
        spec = get_attack(attack_id)
        value = 0.1 if attack_id == "regeneration" else (8 if "pgd" in attack_id else 4)
        assert not torch.equal(spec(images, value, seed=1, context=context), spec(images, value, seed=2, context=context))

    @pytest.mark.parametrize("attack_id", IMAGE_ATTACKS)
    def test_missing_context_is_a_clear_error(self, attack_id, images):
        spec = get_attack(attack_id)
        with pytest.raises(ValueError, match="needs `"):
            spec(images, _value(spec), seed=0)

    @pytest.mark.parametrize("attack_id", IMAGE_ATTACKS)
    def test_bad_images_rejected(self, attack_id, images, context):
        spec = get_attack(attack_id)
        with pytest.raises(ValueError, match=r"\[0,1\]"):
            spec(images * 2, _value(spec), seed=0, context=context)

    def test_whitebox_only_uses_the_decoder_it_is_given(self, images, adversary_tools):
        """The adversary's own tools are no stand-in for the victim's decoder."""
        with pytest.raises(ValueError, match="needs `victim_decoder`"):
            get_attack("whitebox_pgd")(images, 8, seed=0, context=AttackContext(**adversary_tools))


class TestPGD:
    @pytest.mark.parametrize("attack_id", ["surrogate_pgd", "whitebox_pgd"])
    @pytest.mark.parametrize("eps", [2, 4, 8, 16])
    def test_linf_budget(self, attack_id, eps, images, context):
        out = get_attack(attack_id)(images, eps, seed=0, context=context)
        assert float((out - images).abs().max()) <= eps / 255 + 1e-7
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0

    def test_budget_holds_at_the_image_range_edges(self, trained_decoder):
        x = torch.zeros(2, 3, 16, 16)
        x[1] = 1.0
        out = pgd_scramble(x, 16, seed=0, decoder=trained_decoder, steps=3)
        assert float((out - x).abs().max()) <= 16 / 255 + 1e-7 and out.min() >= 0 and out.max() <= 1

    def test_zero_eps_is_identity(self, images, context):
        assert torch.equal(get_attack("whitebox_pgd")(images, 0, seed=0, context=context), images)

    def test_whitebox_lowers_bit_accuracy_of_a_trained_decoder(self, helpers, trained_decoder):
        x = helpers.smooth(48, 500)
        fp = torch.randint(0, 2, (helpers.bits,), generator=torch.Generator().manual_seed(8)).float()
        marked = helpers.plant(x, fp)
        with torch.no_grad():
            clean_acc = float(bit_accuracy((trained_decoder(marked) > 0).float(), fp).mean())
        attacked = get_attack("whitebox_pgd")(marked, 8, seed=0, victim_decoder=trained_decoder, pgd_steps=20)
        with torch.no_grad():
            attacked_acc = float(bit_accuracy((trained_decoder(attacked) > 0).float(), fp).mean())
        assert clean_acc > 0.95
        assert attacked_acc < 0.75

    def test_bad_steps(self, images, context):
        with pytest.raises(ValueError, match="steps"):
            get_attack("surrogate_pgd")(images, 4, seed=0, context=dataclasses.replace(context, pgd_steps=0))


class TestOverwrite:
    def test_zero_strength_is_identity(self, images, context):
        assert torch.equal(get_attack("overwrite")(images, 0.0, seed=0, context=context), images)

    def test_blend_is_linear_in_strength(self, images, context):
        spec = get_attack("overwrite")
        full = spec(images, 1.0, seed=0, context=context)
        half = spec(images, 0.5, seed=0, context=context)
        torch.testing.assert_close(half, (0.5 * images + 0.5 * full).clamp(0, 1), atol=1e-6, rtol=0)

    def test_wrong_resolution(self, helpers, context):
        with pytest.raises(ValueError, match="16x16"):
            get_attack("overwrite")(helpers.smooth(2, 0, res=32), 0.5, seed=0, context=context)


class TestAveraging:
    def test_removes_a_shared_additive_pattern(self, helpers):
        g = torch.Generator().manual_seed(0)
        pattern = 0.03 * (torch.randint(0, 2, (3, 16, 16), generator=g).float() * 2 - 1)
        pool = (helpers.smooth(400, 1) + pattern).clamp(0, 1)
        x = helpers.smooth(8, 2)
        marked = (x + pattern).clamp(0, 1)
        out = get_attack("averaging")(marked, 400, seed=0, pool=pool)
        assert float((out - x).pow(2).mean()) < 0.3 * float((marked - x).pow(2).mean())

    def test_more_samples_than_the_pool(self, images, context):
        with pytest.raises(ValueError, match="pool holds only 40"):
            get_attack("averaging")(images, 41, seed=0, context=context)


class TestForgery:
    def test_copy_adds_the_pattern_it_estimates(self, helpers):
        g = torch.Generator().manual_seed(0)
        pattern = 0.03 * (torch.randint(0, 2, (3, 16, 16), generator=g).float() * 2 - 1)
        pool = (helpers.smooth(400, 1) + pattern).clamp(0, 1)
        x = helpers.smooth(8, 2)
        forged = get_attack("forgery_copy")(x, 400, seed=0, pool=pool)
        corr = torch.nn.functional.cosine_similarity((forged - x).flatten(1), pattern.flatten()[None], dim=1)
        assert float(corr.min()) > 0.8
