"""Fine-tuning: continue adversarial training of the generator on clean, unfingerprinted real images.

Not in the paper (this project adds it): the adversary owns the released generator and some clean images
and trains on, hoping to wash the fingerprint out. The training loop is fpbench's own GAN trainer
(:func:`fpbench.generators.train_gan`), run with the config the model was trained with, so "steps" means
the same thing as in generator training.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fpbench.attacks.model.layers import fresh_copy
from fpbench.attacks.model.threats import CLEAN_DATA, FID_BUDGET
from fpbench.attacks.model.training import check_steps, check_training_context, train_generator
from fpbench.attacks.registry import ThreatCard, register_attack

#: Default grid; GanConfig's default training run is 2000 steps, so 3000 goes past it.
STEPS_GRID = (0, 100, 300, 1000, 3000)


def steps_grid(trained_steps: int) -> tuple[int, ...]:
    """The default grid plus ``trained_steps`` (sorted), so a grid always reaches the length of the run
    that made the model: ``steps_grid(gan_config.steps)``."""
    if isinstance(trained_steps, bool) or not isinstance(trained_steps, int) or trained_steps < 0:
        raise ValueError(f"trained_steps must be an int >= 0, got {trained_steps!r}")
    return tuple(sorted({*STEPS_GRID, trained_steps}))


@register_attack(
    "finetuning", kind="model", param="steps", unit="GAN training steps on clean real images",
    grid=STEPS_GRID, neutral=0, domain=(0, 10_000_000), category="training", integer=True,
    description="Continue adversarial training of the generator on clean real images (context: data, "
    "gan_config, optional discriminator) with fpbench's GAN trainer; returns the EMA generator.",
    needs=("data", "gan_config"), optional=("discriminator", "device"),
    threat=ThreatCard("grey-box", data=CLEAN_DATA, compute="`steps` GAN training steps (generator and "
                      "discriminator) at the model's batch size", quality=FID_BUDGET),
)
def finetuning(
    model: nn.Module,
    steps: int,
    *,
    seed: int = 0,
    data: torch.Tensor | None = None,
    gan_config: Any = None,
    discriminator: nn.Module | None = None,
    device: str | torch.device | None = None,
) -> nn.Module:
    """Return ``model`` after ``steps`` more GAN training steps on ``data`` (uint8 ``N x 3 x R x R``, clean
    real images at ``gan_config.resolution``).

    ``gan_config``: the :class:`fpbench.generators.GanConfig` the model was trained with; its ``steps`` and
    ``seed`` are replaced by ``steps`` and ``seed`` (batch order, latents and a fresh discriminator
    follow the attack's seed). ``discriminator``: the original discriminator, continued from its weights;
    without it a fresh one as ``gan_config`` says (its ``discriminator``, else ``arch``'s own) is trained
    from scratch. ``device`` defaults to the
    model's. Like the trained models themselves, the result is the EMA generator (started from ``model``)
    with recalibrated BatchNorm statistics, in eval mode; every layer may change, norm layers included.
    The model must be a fpbench generator (``resolution``/``latent_dim`` attributes matching the config).
    ``steps=0`` returns an unchanged copy. Inputs are never modified.
    """
    start = fresh_copy(model, "finetuning")
    steps = check_steps(steps, "finetuning")
    config = check_training_context("finetuning", data, gan_config, discriminator)
    if steps == 0:
        return start
    return train_generator(start, steps, seed=seed, data=data, gan_config=config, discriminator=discriminator,
                           device=device)
