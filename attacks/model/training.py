"""Training glue shared by the model attacks that train: context checks, one call of fpbench's GAN trainer,
fresh seeded generators, and which layers are "the last K".

Every training attack calls :func:`train_generator` (a copy of the config with the attack's steps and seed,
the device, the requires-grad flags of the input restored) rather than a loop of its own; distillation,
whose loss is not a GAN's, reuses the checks and :func:`fresh_generator`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from typing import Any

import torch
from torch import nn

from fpbench.attacks.model.layers import TARGET_LAYERS


def check_steps(steps: int, attack: str) -> int:
    if isinstance(steps, bool) or int(steps) != steps or steps < 0:
        raise ValueError(f"{attack}: steps must be an integer >= 0, got {steps}")
    return int(steps)


def check_config(gan_config: Any, attack: str) -> Any:
    """``gan_config`` if it is a :class:`fpbench.generators.GanConfig`, else a ValueError naming the fix."""
    from fpbench.generators import GanConfig  # the GAN stack loads only when an attack trains

    if not isinstance(gan_config, GanConfig):
        raise ValueError(
            f"{attack} needs the model's training config in context: gan_config=<fpbench.generators.GanConfig>, "
            f"got {type(gan_config).__name__}"
        )
    return gan_config


def check_training_context(attack: str, data: torch.Tensor | None, gan_config: Any,
                           discriminator: nn.Module | None) -> Any:
    """Check what a GAN-training attack was handed; return the config."""
    if data is None:
        raise ValueError(f"{attack} needs clean real images in context: data=<uint8 N x 3 x R x R tensor>")
    config = check_config(gan_config, attack)
    if discriminator is not None and not isinstance(discriminator, nn.Module):
        raise ValueError(f"{attack}: discriminator must be an nn.Module, got {type(discriminator).__name__}")
    return config


def model_device(model: nn.Module, device: str | torch.device | None) -> str | torch.device:
    """``device`` if given, else the device of the model's first parameter (CPU for none)."""
    if device is not None:
        return device
    first = next(model.parameters(), None)
    return first.device if first is not None else "cpu"


def train_generator(
    model: nn.Module,
    steps: int,
    *,
    seed: int,
    data: torch.Tensor,
    gan_config: Any,
    discriminator: nn.Module | None = None,
    device: str | torch.device | None = None,
    trainable: Callable[[str], bool] | Collection[str] | None = None,
) -> nn.Module:
    """``model`` after ``steps`` GAN steps on ``data`` with :func:`fpbench.generators.train_gan`, run with a
    copy of ``gan_config`` whose ``steps`` and ``seed`` are the attack's (batch order, latents and a fresh
    discriminator follow ``seed``). Returns the EMA generator (recalibrated BatchNorm, eval mode) with the
    requires-grad flags of ``model``; ``model`` itself is never modified (the trainer trains a copy).
    ``trainable``: which generator parameters train (see ``train_gan``); default all."""
    from fpbench.generators import train_gan

    requires_grad = [p.requires_grad for p in model.parameters()]
    config = dataclasses.replace(gan_config, steps=int(steps), seed=int(seed))
    result = train_gan(data, config, generator=model, discriminator=discriminator, progress=False,
                       device=model_device(model, device), trainable=trainable)
    out = result.generator
    for p, flag in zip(out.parameters(), requires_grad, strict=True):
        p.requires_grad_(flag)
    return out


def fresh_generator(like: nn.Module, gan_config: Any, seed: int, attack: str) -> nn.Module:
    """A newly initialised generator of ``gan_config``'s architecture (its own init, seeded by ``seed``,
    global RNG untouched), on ``like``'s device; a ValueError when its state dict does not match ``like``'s
    (the config is not the one the model was trained with)."""
    from fpbench.generators import build

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        fresh = build(gan_config.arch, gan_config.resolution, gan_config.latent_dim, gan_config.width)[0]
    mine, theirs = like.state_dict(), fresh.state_dict()
    if mine.keys() != theirs.keys() or any(mine[k].shape != theirs[k].shape for k in mine):
        raise ValueError(
            f"{attack}: gan_config builds a {gan_config.arch} generator (resolution {gan_config.resolution}, "
            f"latent_dim {gan_config.latent_dim}, width {gan_config.width}) whose weights do not match the "
            f"model's: pass the config the model was trained with"
        )
    first = next(like.parameters(), None)
    return fresh.to(first.device) if first is not None else fresh


def last_layer_modules(model: nn.Module, k: int, attack: str) -> list[str]:
    """Names of the modules from the ``k``-th last Conv/ConvTranspose/Linear layer on, in registration
    order: the last ``k`` such layers and every module registered after the first of them (the norm layers
    between them, e.g. DCGAN's last up-sampling block with its BatchNorm when ``k=2``)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"{attack}: the number of last layers must be an int >= 1, got {k!r}")
    names = [name for name, _ in model.named_modules()]
    targets = [i for i, (_, m) in enumerate(model.named_modules()) if isinstance(m, TARGET_LAYERS)]
    if not targets:
        raise ValueError(f"{attack}: {type(model).__name__} has no Conv/ConvTranspose/Linear layers to perturb")
    if k > len(targets):
        raise ValueError(f"{attack}: the model has {len(targets)} Conv/ConvTranspose/Linear layers, fewer than "
                         f"the last {k} asked for")
    return [n for n in names[targets[-k]:] if n]


def in_modules(name: str, modules: Collection[str]) -> bool:
    """Whether the parameter or buffer ``name`` belongs to one of ``modules`` (or a child of one)."""
    return any(name == m or name.startswith(m + ".") for m in modules)


def restore_frozen(out: nn.Module, original: nn.Module, modules: Collection[str]) -> nn.Module:
    """Copy every state-dict entry of ``original`` that is not in ``modules`` into ``out``: frozen layers,
    BatchNorm statistics included, end exactly as they were (training in train mode and recalibration would
    otherwise re-estimate the statistics of layers whose inputs did not change)."""
    theirs = original.state_dict()
    merged = {k: (v if in_modules(k, modules) else theirs[k].to(v.device).clone())
              for k, v in out.state_dict().items()}
    out.load_state_dict(merged)
    return out
