"""Fine-tuning and re-training the last layers only (the Watermark-Robustness-Toolbox's FTLL and RTLL,
there for classifiers, here for generators).

"The last layers" are the last :data:`LAST_LAYERS` Conv/ConvTranspose/Linear layers and every module
registered after the first of them (:func:`fpbench.attacks.model.training.last_layer_modules`): for
fpbench's DCGAN the last up-sampling block (transposed conv + BatchNorm) and the RGB layer, for its
ResNet the last block's shortcut conv, the final BatchNorm and the RGB conv. Everything else is frozen and
ends bit-identical to the input, BatchNorm statistics included. Training is fpbench's GAN trainer on clean
real images, with only the last layers in the generator's optimiser.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fpbench.attacks.model.finetuning import STEPS_GRID
from fpbench.attacks.model.layers import fresh_copy
from fpbench.attacks.model.threats import CLEAN_DATA, FID_BUDGET
from fpbench.attacks.model.training import (
    check_steps,
    check_training_context,
    fresh_generator,
    in_modules,
    last_layer_modules,
    restore_frozen,
    train_generator,
)
from fpbench.attacks.registry import ThreatCard, register_attack

#: how many Conv/ConvTranspose/Linear layers count as "the last layers"
LAST_LAYERS = 2

_CONTEXT: dict[str, Any] = dict(needs=("data", "gan_config"), optional=("discriminator", "device"))


def _train_last(attack: str, model: nn.Module, steps: int, *, reinit: bool, seed: int, data: Any,
                gan_config: Any, discriminator: Any, device: Any, layers: int) -> nn.Module:
    """Shared body of FTLL and RTLL: optionally re-initialise the last layers, then train only them."""
    original = fresh_copy(model, attack)
    steps = check_steps(steps, attack)
    config = check_training_context(attack, data, gan_config, discriminator)
    last = last_layer_modules(original, layers, attack)
    out = fresh_copy(original, attack)
    if reinit:
        fresh = fresh_generator(out, config, seed, attack).state_dict()
        state = out.state_dict()
        out.load_state_dict({k: fresh[k] if in_modules(k, last) else v for k, v in state.items()})
    if steps > 0:
        out = train_generator(out, steps, seed=seed, data=data, gan_config=config, discriminator=discriminator,
                              device=device, trainable=lambda name: in_modules(name, last))
    elif reinit:  # untrained new layers: statistics for their weights, as a trained generator gets
        from fpbench.generators import recalibrate_batchnorm
        from fpbench.generators.training import stream_seed

        recalibrate_batchnorm(out, seed=stream_seed(int(seed), 4, 0), batch_size=config.batch_size)
    return restore_frozen(out, original, last).eval()


@register_attack(
    "finetune_last_layers", kind="model", param="steps", unit="GAN training steps of the last layers on clean images",
    grid=STEPS_GRID, neutral=0, domain=(0, 10_000_000), category="training", integer=True,
    description=f"FTLL: fine-tune only the last {LAST_LAYERS} conv layers (the output block) adversarially on "
    "clean real images with fpbench's GAN trainer; earlier layers frozen.",
    **_CONTEXT,
    threat=ThreatCard("grey-box", data=CLEAN_DATA, compute=f"`steps` GAN training steps of the last {LAST_LAYERS} "
                      "conv layers at the model's batch size", quality=FID_BUDGET),
)
def finetune_last_layers(
    model: nn.Module,
    steps: int,
    *,
    seed: int = 0,
    data: torch.Tensor | None = None,
    gan_config: Any = None,
    discriminator: nn.Module | None = None,
    device: str | torch.device | None = None,
    layers: int = LAST_LAYERS,
) -> nn.Module:
    """Return ``model`` after ``steps`` GAN steps on ``data`` (clean uint8 ``N x 3 x R x R``) that update only
    its last ``layers`` conv layers (and the modules registered after the first of them); every other
    state-dict entry is bit-identical to ``model``'s. ``gan_config`` (steps and seed replaced),
    ``discriminator`` and ``device`` as in :func:`~fpbench.attacks.model.finetuning.finetuning`. The result
    is the EMA generator in eval mode. ``steps=0`` returns an unchanged copy. Inputs are never modified."""
    return _train_last("finetune_last_layers", model, steps, reinit=False, seed=seed, data=data,
                       gan_config=gan_config, discriminator=discriminator, device=device, layers=layers)


@register_attack(
    "retrain_last_layers", kind="model", param="steps", unit="GAN training steps of re-initialised last layers",
    grid=STEPS_GRID, neutral=None, domain=(0, 10_000_000), category="training", integer=True,
    description=f"RTLL: re-initialise the last {LAST_LAYERS} conv layers (the output block; the architecture's "
    "own init from gan_config, seeded), then train only them adversarially on clean real images. At 0 steps "
    "the layers are new and untrained.",
    **_CONTEXT,
    threat=ThreatCard("grey-box", data=CLEAN_DATA, compute=f"`steps` GAN training steps of the last {LAST_LAYERS} "
                      "conv layers, re-initialised, at the model's batch size", quality=FID_BUDGET),
)
def retrain_last_layers(
    model: nn.Module,
    steps: int,
    *,
    seed: int = 0,
    data: torch.Tensor | None = None,
    gan_config: Any = None,
    discriminator: nn.Module | None = None,
    device: str | torch.device | None = None,
    layers: int = LAST_LAYERS,
) -> nn.Module:
    """Return ``model`` with its last ``layers`` conv layers (and the modules registered after the first of
    them, norm layers included) replaced by newly initialised ones (a fresh ``gan_config`` generator's, seeded
    by ``seed``), then trained for ``steps`` GAN steps on ``data`` with every other layer frozen and
    bit-identical to ``model``'s. ``steps=0`` means re-initialised but not trained (BatchNorm statistics
    recalibrated for the new weights): the far end of the attack, with a ruined FID, not a no-op, so the
    attack has no neutral value. Otherwise as :func:`finetune_last_layers`."""
    return _train_last("retrain_last_layers", model, steps, reinit=True, seed=seed, data=data,
                       gan_config=gan_config, discriminator=discriminator, device=device, layers=layers)
