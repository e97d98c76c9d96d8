"""Fine-tuning: continue adversarial training of the generator on clean, unfingerprinted real images.

Not in the paper (this project adds it): the adversary owns the released generator and some clean images
and trains on, hoping to wash the fingerprint out. The training loop is fpbench's own GAN trainer
(:func:`fpbench.generators.train_gan`), run with the config the model was trained with, so "steps" means
the same thing as in generator training.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from fpbench.attacks.model.layers import fresh_copy
from fpbench.attacks.registry import register_attack

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
    if isinstance(steps, bool) or int(steps) != steps or steps < 0:
        raise ValueError(f"finetuning: steps must be an integer >= 0, got {steps}")
    from fpbench.generators import GanConfig, train_gan  # the GAN stack loads only when fine-tuning

    if data is None:
        raise ValueError("finetuning needs clean real images in context: data=<uint8 N x 3 x R x R tensor>")
    if not isinstance(gan_config, GanConfig):
        raise ValueError(
            "finetuning needs the model's training config in context: gan_config=<fpbench.generators.GanConfig>, "
            f"got {type(gan_config).__name__}"
        )
    if discriminator is not None and not isinstance(discriminator, nn.Module):
        raise ValueError(f"finetuning: discriminator must be an nn.Module, got {type(discriminator).__name__}")
    if steps == 0:
        return start
    requires_grad = [p.requires_grad for p in start.parameters()]
    start.requires_grad_(True)  # a released (EMA) generator is frozen; training needs gradients
    params = next(start.parameters(), None)
    device = device if device is not None else (params.device if params is not None else "cpu")
    config = dataclasses.replace(gan_config, steps=int(steps), seed=int(seed))
    result = train_gan(data, config, generator=start, discriminator=discriminator, progress=False,
                       device=device)
    out = result.generator
    for p, flag in zip(out.parameters(), requires_grad, strict=True):
        p.requires_grad_(flag)
    return out
