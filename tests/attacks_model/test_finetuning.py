"""finetuning: tiny 16x16 runs of fpbench's GAN trainer, continued from a given generator."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fpbench.attacks.model.finetuning import STEPS_GRID, finetuning, steps_grid

gen = pytest.importorskip("fpbench.generators")

LATENT = 8


@pytest.fixture
def setup():
    """A tiny DCGAN pair, clean uint8 data and the config it 'was trained with'."""
    torch.manual_seed(0)
    G, D = gen.build("dcgan", 16, LATENT, 4)
    data = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    config = gen.GanConfig(resolution=16, width=4, latent_dim=LATENT, batch_size=4, steps=40)
    return G, D, data, config


def _state(m: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class TestFinetuning:
    def test_changes_every_conv_weight(self, setup):
        G, D, data, config = setup
        before = _state(G)
        after = _state(finetuning(G, 3, seed=0, data=data, gan_config=config, discriminator=D))
        conv_keys = [k for k in before if k.endswith("weight") and before[k].dim() == 4]
        assert conv_keys and all(not torch.equal(after[k], before[k]) for k in conv_keys)

    def test_reproducible_from_seed_and_different_across_seeds(self, setup):
        G, D, data, config = setup
        a, b, c = (
            _state(finetuning(G, 2, seed=s, data=data, gan_config=config, discriminator=D)) for s in (4, 4, 5)
        )
        assert _same(a, b)
        assert not _same(a, c)

    def test_inputs_untouched(self, setup):
        G, D, data, config = setup
        g0, d0, x0 = _state(G), _state(D), data.clone()
        finetuning(G, 2, seed=0, data=data, gan_config=config, discriminator=D)
        assert _same(_state(G), g0) and _same(_state(D), d0) and torch.equal(data, x0)

    def test_original_discriminator_is_used_when_given(self, setup):
        G, D, data, config = setup
        with torch.no_grad():
            for p in D.parameters():
                p.mul_(-1)  # a different D must give a different fine-tuned G
        with_d = _state(finetuning(G, 2, seed=0, data=data, gan_config=config, discriminator=D))
        fresh = _state(finetuning(G, 2, seed=0, data=data, gan_config=config))
        assert not _same(with_d, fresh)

    def test_frozen_released_generator_is_trained_and_stays_frozen(self, setup):
        G, D, data, config = setup
        G.requires_grad_(False)  # what the trainer releases: a frozen EMA copy
        out = finetuning(G, 2, seed=0, data=data, gan_config=config, discriminator=D)
        assert not any(p.requires_grad for p in out.parameters())
        assert not _same(_state(out), _state(G))

    def test_result_is_an_eval_mode_generator_of_the_same_class(self, setup):
        G, D, data, config = setup
        out = finetuning(G, 1, seed=0, data=data, gan_config=config)
        assert type(out) is type(G) and not out.training
        with torch.no_grad():
            x = out(torch.randn(2, LATENT))
        assert x.shape == (2, 3, 16, 16) and 0 <= x.min() and x.max() <= 1

    def test_missing_data_is_a_clear_error(self, setup):
        G, D, _, config = setup
        with pytest.raises(ValueError, match="needs clean real images in context: data="):
            finetuning(G, 2, gan_config=config)

    def test_missing_config_is_a_clear_error(self, setup):
        G, D, data, _ = setup
        with pytest.raises(ValueError, match="needs the model's training config in context: gan_config="):
            finetuning(G, 2, data=data)

    def test_bad_discriminator_and_steps_rejected(self, setup):
        G, _, data, config = setup
        with pytest.raises(ValueError, match="discriminator must be an nn.Module"):
            finetuning(G, 2, data=data, gan_config=config, discriminator="D")
        with pytest.raises(ValueError, match="steps must be an integer"):
            finetuning(G, 2.5, data=data, gan_config=config)

    def test_data_at_the_wrong_resolution_is_rejected(self, setup):
        G, D, _, config = setup
        with pytest.raises(ValueError, match="config.resolution"):
            finetuning(G, 2, data=torch.zeros(4, 3, 32, 32, dtype=torch.uint8), gan_config=config)

    def test_grid_reaches_the_training_length(self):
        assert STEPS_GRID[-1] >= gen.GanConfig().steps
        assert steps_grid(2000) == (0, 100, 300, 1000, 2000, 3000)
        assert steps_grid(20_000)[-1] == 20_000
        with pytest.raises(ValueError, match="trained_steps"):
            steps_grid(-1)
