"""Per-image seeds of the image attacks: every attack either draws its randomness from ``(seed, image
index)`` alone or ignores the seed, so results never depend on the batch size or the other images."""

from __future__ import annotations

import pytest
import torch

from fpbench.attacks.registry import ATTACKS, AttackKind, get_attack, load_all

load_all()
IMAGE_IDS = sorted(i for i, s in ATTACKS.items() if s.kind is AttackKind.IMAGE)
SEEDED = ("gaussian_noise", "erasing", "perspective", "overlay_text", "random_resized_crop", "translation",
          "collage", "salt_pepper", "combo_geometric_photometric", "combo_degradation")
DETERMINISTIC = tuple(i for i in IMAGE_IDS if i not in SEEDED)


def attack(attack_id: str, images: torch.Tensor, value: float, seed: int = 0) -> torch.Tensor:
    return get_attack(attack_id)(images, value, seed=seed)


def textured(n: int, ref, h: int = 24, w: int = 20) -> torch.Tensor:
    """``n`` copies of one textured image: any difference between outputs comes from the draws."""
    return ref.random_images(1, h, w).expand(n, 3, h, w).clone()


def strongest(attack_id: str) -> float:
    return get_attack(attack_id).grid[-1]


def test_seeded_ids_are_image_attacks():
    assert set(SEEDED) <= set(IMAGE_IDS)


@pytest.mark.parametrize("attack_id", SEEDED)
class TestSeeded:
    def test_seed_changes_randomness(self, ref, attack_id):
        x = textured(4, ref)
        assert not torch.equal(attack(attack_id, x, strongest(attack_id), seed=0),
                               attack(attack_id, x, strongest(attack_id), seed=1))

    def test_images_get_different_draws(self, ref, attack_id):
        out = attack(attack_id, textured(2, ref), strongest(attack_id))
        assert not torch.equal(out[0], out[1])

    def test_an_image_ignores_its_neighbours(self, images, attack_id):
        """Image i's result depends on (seed, i) and image i only: not on the batch size or the others."""
        full = attack(attack_id, images, strongest(attack_id), seed=4)
        for i in range(len(images)):
            others = torch.cat([torch.rand_like(images[:i]), images[i:i + 1]])
            torch.testing.assert_close(attack(attack_id, others, strongest(attack_id), seed=4)[i], full[i],
                                       atol=1e-6, rtol=0)


@pytest.mark.parametrize("attack_id", DETERMINISTIC)
def test_the_rest_ignore_the_seed(images, attack_id):
    """An attack not in SEEDED must not draw anything: a new random attack belongs in SEEDED."""
    assert torch.equal(attack(attack_id, images, strongest(attack_id), seed=0),
                       attack(attack_id, images, strongest(attack_id), seed=1))
