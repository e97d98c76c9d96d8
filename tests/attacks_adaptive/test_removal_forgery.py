"""Contract and behaviour of the image-producing adaptive attacks (removal and forgery)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fpbench.attacks.adaptive.pgd import pgd_scramble, round_in_ball
from fpbench.attacks.context import AttackContext
from fpbench.attacks.registry import AttackKind, get_attack, load_all
from fpbench.fingerprint.matching import bit_accuracy

IMAGE_ATTACKS = sorted(i for i, s in load_all().items()
                       if s.kind is AttackKind.ADAPTIVE and s.category in ("removal", "forgery"))
NEEDY = [i for i in IMAGE_ATTACKS if get_attack(i).needs]  # all but the random ResNet's embedding attack
PGD = ["surrogate_pgd", "whitebox_pgd", "embedding_pgd_autoencoder", "embedding_pgd_resnet18", "embedding_pgd_surrogate"]


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

    @pytest.mark.parametrize("attack_id", [*PGD, "regeneration", "purification", "averaging"])
    def test_seed_matters(self, attack_id, images, context):
        spec = get_attack(attack_id)
        value = 0.1 if spec.param == "std" else (8 if "pgd" in attack_id else 4)
        assert not torch.equal(spec(images, value, seed=1, context=context), spec(images, value, seed=2, context=context))

    @pytest.mark.parametrize("attack_id", NEEDY)
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
    @pytest.mark.parametrize("attack_id", PGD)
    @pytest.mark.parametrize("eps", [2, 4, 8, 16])
    def test_linf_budget(self, attack_id, eps, images, context):
        """Off the uint8 grid the rounding may cross the ball by its float slack (< 1e-6), never by a level."""
        out = get_attack(attack_id)(images, eps, seed=0, context=context)
        assert float((out - images).abs().max()) <= eps / 255 + 1e-6
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0

    @pytest.mark.parametrize("attack_id", PGD)
    @pytest.mark.parametrize("eps", [1, 3, 8])
    def test_uint8_grid_and_exact_budget_for_saved_images(self, attack_id, eps, images, context):
        x = torch.round(images * 255) / 255  # a saved image
        out = get_attack(attack_id)(x, eps, seed=0, context=context)
        levels = out * 255
        assert torch.equal(levels, torch.round(levels)), "outputs are on the uint8 grid"
        assert torch.equal(torch.round(levels).to(torch.uint8).float() / 255, out)
        assert int((torch.round(levels) - torch.round(x * 255)).abs().max()) <= eps
        assert int((torch.round(levels) - torch.round(x * 255)).abs().max()) == eps  # the budget is used

    def test_budget_holds_at_the_image_range_edges(self, trained_decoder):
        x = torch.zeros(2, 3, 16, 16)
        x[1] = 1.0
        out = pgd_scramble(x, 16, seed=0, decoder=trained_decoder, steps=3)
        assert float((out - x).abs().max()) <= 16 / 255 + 1e-7 and out.min() >= 0 and out.max() <= 1

    @pytest.mark.parametrize("attack_id", PGD)
    def test_an_image_does_not_depend_on_its_batch(self, attack_id, helpers, context):
        x = torch.round(helpers.smooth(5, 11) * 255) / 255
        spec = get_attack(attack_id)
        whole = spec(x, 8, seed=4, context=context)
        alone = torch.cat([spec(x[:2], 8, seed=4, context=context), spec(x[2:], 8, seed=4, context=context)])
        # image i's start and target come from (seed, i) in the whole batch, so compare the first chunk exactly
        assert torch.equal(whole[:2], alone[:2])

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


class TestRoundInBall:
    def test_on_grid_inputs_stay_within_eps_levels(self):
        g = torch.Generator().manual_seed(0)
        x0 = torch.randint(0, 256, (4, 3, 8, 8), generator=g).float() / 255
        x = (x0 + (torch.rand(x0.shape, generator=g) * 2 - 1) * 2.6 / 255).clamp(0, 1)  # a little outside eps=2.5
        out = round_in_ball(x, x0, 2.5)
        diff = torch.round(out * 255) - torch.round(x0 * 255)
        assert int(diff.abs().max()) <= 2 and torch.equal(out * 255, torch.round(out * 255))

    def test_nearest_level_inside_the_ball(self):
        x0 = torch.full((1, 1, 1, 3), 100 / 255)
        x = torch.tensor([101.4, 98.6, 110.0]).view(1, 1, 1, 3) / 255
        assert (round_in_ball(x, x0, 4) * 255).round().flatten().tolist() == [101, 99, 104]
