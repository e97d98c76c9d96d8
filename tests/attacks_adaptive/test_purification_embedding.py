"""Purification (noise, then the adversary's denoiser), the PCA-initialised regeneration autoencoder and
embedding-space PGD against feature extractors the adversary owns."""

from __future__ import annotations

import pytest
import torch

from fpbench.attacks.adaptive import random_resnet18
from fpbench.attacks.adaptive._context import add_noise
from fpbench.attacks.adaptive.denoiser import Denoiser, DenoiserConfig, train_denoiser
from fpbench.attacks.adaptive.embedding import penultimate
from fpbench.attacks.adaptive.regeneration import (
    AutoencoderConfig,
    RegenerationAutoencoder,
    train_autoencoder,
)
from fpbench.attacks.context import AttackContext
from fpbench.attacks.registry import get_attack
from fpbench.metrics import psnr
from tests.attacks_adaptive.conftest import smooth_images


def _u8(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round().to(torch.uint8)


@pytest.fixture(scope="session")
def trained_denoiser() -> Denoiser:
    """A small DnCNN trained (150 steps) on toy photos."""
    return train_denoiser(_u8(smooth_images(256, 21)), DenoiserConfig(depth=4, width=16, steps=150, lr=2e-3, seed=1))


def _mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).pow(2).mean())


class TestDenoiser:
    def test_starts_as_the_identity(self, helpers):
        x = helpers.smooth(3, 0)
        assert torch.equal(Denoiser(depth=3, width=8)(x), x)

    @pytest.mark.parametrize("std", [0.05, 0.1])
    def test_reduces_the_error_of_noisy_held_out_images(self, std, helpers, trained_denoiser):
        clean = helpers.smooth(32, 999)  # not among the training images
        noisy = add_noise(clean, std, seed=3)
        with torch.no_grad():
            out = trained_denoiser(noisy)
        assert _mse(out, clean) < 0.6 * _mse(noisy, clean)

    def test_training_is_deterministic(self, helpers):
        imgs = _u8(helpers.smooth(16, 2))
        cfg = DenoiserConfig(depth=2, width=4, steps=3, batch_size=4)
        a, b = train_denoiser(imgs, cfg), train_denoiser(imgs, cfg)
        assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))

    @pytest.mark.parametrize("train", ["denoiser", "autoencoder"])
    def test_training_leaves_the_global_rng_alone(self, train, helpers):
        imgs = _u8(helpers.smooth(16, 2))
        state = torch.random.get_rng_state()
        if train == "denoiser":
            train_denoiser(imgs, DenoiserConfig(depth=2, width=4, steps=2, batch_size=4))
        else:
            train_autoencoder(imgs, AutoencoderConfig(patch=4, latent_channels=16, width=4, steps=2, batch_size=4))
        assert torch.equal(torch.random.get_rng_state(), state)

    def test_training_rejects_float_images(self, helpers):
        with pytest.raises(ValueError, match="uint8"):
            train_denoiser(helpers.smooth(4, 0), DenoiserConfig(steps=1))


class TestPurification:
    def test_removes_noise_better_than_adding_it(self, helpers, trained_denoiser):
        clean = helpers.smooth(16, 998)
        out = get_attack("purification")(clean, 0.1, seed=0, denoiser=trained_denoiser)
        assert _mse(out, clean) < 0.6 * _mse(add_noise(clean, 0.1, seed=0), clean)

    def test_per_image_seeds_make_outputs_independent_of_the_batch(self, helpers, trained_denoiser):
        x = helpers.smooth(6, 4)
        spec = get_attack("purification")
        whole = spec(x, 0.05, seed=9, denoiser=trained_denoiser)
        first = spec(x[:3], 0.05, seed=9, denoiser=trained_denoiser)
        torch.testing.assert_close(whole[:3], first, atol=1e-6, rtol=0)
        noise = add_noise(x, 0.05, seed=9)  # image i's noise is a function of (seed, i) alone
        torch.testing.assert_close(noise[:3], add_noise(x[:3], 0.05, seed=9), atol=0, rtol=0)

    def test_zero_std_is_identity(self, images, trained_denoiser):
        assert torch.equal(get_attack("purification")(images, 0.0, seed=0, denoiser=trained_denoiser), images)

    def test_missing_denoiser_names_the_fix(self, images):
        with pytest.raises(ValueError, match=r"needs `denoiser`.*train_denoiser"):
            get_attack("purification")(images, 0.05, seed=0)
        with pytest.raises(ValueError, match=r"purification needs `denoiser` \(the adversary's Gaussian denoiser"):
            get_attack("purification")(images, 0.05, seed=0, context=AttackContext())


class TestRegenerationAutoencoder:
    def test_the_code_is_a_bottleneck(self, helpers):
        net = RegenerationAutoencoder(patch=4, latent_channels=16, width=8)
        x = helpers.smooth(2, 0)
        assert net.encode(x).numel() < x.numel() / 2
        with pytest.raises(ValueError, match="bottleneck"):
            RegenerationAutoencoder(patch=2, latent_channels=12)

    def test_pca_start_reconstructs_well_and_training_keeps_it(self, helpers):
        """At step 0 the autoencoder is the holdout patches' PCA: already a good code of unseen images."""
        holdout, test = _u8(helpers.smooth(128, 30)), helpers.smooth(16, 31)
        cfg = AutoencoderConfig(patch=4, latent_channels=16, width=8, steps=0)
        start = train_autoencoder(holdout, cfg)
        trained = train_autoencoder(holdout, AutoencoderConfig(patch=4, latent_channels=16, width=8, steps=20))
        with torch.no_grad():
            assert float(psnr(start(test), test).mean()) > 28
            assert float(psnr(trained(test), test).mean()) > 28
        untrained = RegenerationAutoencoder(patch=4, latent_channels=16, width=8)
        with torch.no_grad():
            assert float(psnr(untrained(test), test).mean()) < 20


class TestEmbeddingPGD:
    @pytest.fixture
    def extractors(self, adversary_tools):
        return {"embedding_pgd_autoencoder": adversary_tools["autoencoder"].encode,
                "embedding_pgd_resnet18": random_resnet18(),
                "embedding_pgd_surrogate": penultimate(adversary_tools["surrogate_decoder"])}

    @pytest.mark.parametrize("attack_id", ["embedding_pgd_autoencoder", "embedding_pgd_resnet18",
                                           "embedding_pgd_surrogate"])
    def test_moves_the_embedding_further_than_random_noise_of_the_same_budget(self, attack_id, helpers,
                                                                              adversary_tools, extractors):
        x = torch.round(helpers.smooth(8, 12) * 255) / 255
        eps = 4
        context = AttackContext(**{**adversary_tools, "pgd_steps": 10})
        attacked = get_attack(attack_id)(x, eps, seed=0, context=context)
        g = torch.Generator().manual_seed(0)
        sign = torch.randint(0, 2, x.shape, generator=g).float() * 2 - 1
        random = (x + sign * eps / 255).clamp(0, 1)
        f = extractors[attack_id]
        with torch.no_grad():
            clean = f(x).flatten(1)
            d_attack = (f(attacked).flatten(1) - clean).norm(dim=1)
            d_random = (f(random).flatten(1) - clean).norm(dim=1)
        assert float(d_attack.mean()) > 1.5 * float(d_random.mean())
        assert float((d_attack > d_random).float().mean()) >= 0.75

    def test_resnet_is_seeded_and_leaves_the_global_rng_alone(self):
        from fpbench.attacks.adaptive import embedding

        state = torch.random.get_rng_state()
        cached = random_resnet18()
        embedding._RESNETS.clear()
        fresh = random_resnet18()
        assert torch.equal(torch.random.get_rng_state(), state)
        assert all(torch.equal(a, b) for a, b in zip(cached.state_dict().values(), fresh.state_dict().values(),
                                                     strict=True))
        assert not any(p.requires_grad for p in fresh.parameters()) and not fresh.training

    def test_penultimate_features_of_the_surrogate_decoder(self, adversary_tools, helpers):
        dec = adversary_tools["surrogate_decoder"]
        feats = penultimate(dec)(helpers.smooth(2, 0))
        assert feats.shape == (2, 512)

    def test_autoencoder_without_encode_is_refused(self, images):
        with pytest.raises(ValueError, match="encode"):
            get_attack("embedding_pgd_autoencoder")(images, 4, seed=0, autoencoder=torch.nn.Conv2d(3, 3, 1))
