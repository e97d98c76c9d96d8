"""Low-rank (LoRA-style, Hu et al. 2022) fine-tuning: frozen weights plus a trained rank-r update, merged.

The adversary who wants to change a stolen generator cheaply trains adapters instead of all weights: each
Conv/ConvTranspose/Linear weight ``W`` (first dimension ``m``, the rest flattened to ``n``) becomes
``W + (B @ A).view(W.shape)`` with ``B`` ``m x r`` (zero at the start, so training starts from the model)
and ``A`` ``r x n`` (Kaiming-uniform from the seed), and only the adapters train, adversarially on clean
images with fpbench's GAN trainer. The update is merged into the weights at the end, so the result is the
plain input architecture whose weight change has rank <= r per layer (as a ``m x n`` matrix).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from fpbench.attacks.model.finetuning import STEPS_GRID
from fpbench.attacks.model.layers import fresh_copy, target_layers
from fpbench.attacks.model.threats import CLEAN_DATA, FID_BUDGET
from fpbench.attacks.model.training import check_steps, check_training_context, train_generator
from fpbench.attacks.registry import ThreatCard, register_attack

#: rank of every adapter
RANK = 4


class LowRankUpdate(nn.Module):
    """The parametrization ``W -> W + (B @ A).view(W.shape)``: ``A`` is ``rank x n``, ``B`` ``m x rank``."""

    def __init__(self, shape: torch.Size, rank: int, generator: torch.Generator) -> None:
        super().__init__()
        m, n = shape[0], math.prod(shape[1:])
        a = torch.empty(rank, n)
        bound = 1 / math.sqrt(n)  # kaiming_uniform_(a=sqrt(5)), as LoRA and nn.Linear initialise
        a.uniform_(-bound, bound, generator=generator)
        self.lora_A = nn.Parameter(a)
        self.lora_B = nn.Parameter(torch.zeros(m, rank))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + (self.lora_B @ self.lora_A).view(weight.shape).to(weight.dtype)


def _is_adapter(name: str) -> bool:
    return name.endswith((".lora_A", ".lora_B"))


@register_attack(
    "lora_finetuning", kind="model", param="steps", unit=f"GAN training steps of rank-{RANK} adapters on clean images",
    grid=STEPS_GRID, neutral=0, domain=(0, 10_000_000), category="training", integer=True,
    description=f"LoRA-style fine-tuning: rank-{RANK} adapters on every Conv/ConvTranspose/Linear weight, "
    "base weights frozen, trained adversarially on clean real images (context: data, gan_config, optional "
    "discriminator) with fpbench's GAN trainer, then merged into the weights.",
    needs=("data", "gan_config"), optional=("discriminator", "device"),
    threat=ThreatCard("grey-box", data=CLEAN_DATA, compute=f"`steps` GAN training steps of rank-{RANK} "
                      "adapters (the discriminator trains fully) at the model's batch size", quality=FID_BUDGET),
)
def lora_finetuning(
    model: nn.Module,
    steps: int,
    *,
    seed: int = 0,
    data: torch.Tensor | None = None,
    gan_config: Any = None,
    discriminator: nn.Module | None = None,
    device: str | torch.device | None = None,
    rank: int = RANK,
) -> nn.Module:
    """Return ``model`` with a rank-``rank`` update per Conv/ConvTranspose/Linear weight, trained for
    ``steps`` GAN steps on ``data`` (uint8 ``N x 3 x R x R`` clean real images) with the generator's
    ``gan_config`` (steps and seed replaced; see :func:`fpbench.attacks.model.finetuning.finetuning` for
    ``discriminator`` and ``device``).

    Only the adapters train: biases and norm-layer affine parameters stay exactly as they were; BatchNorm
    running statistics are recalibrated for the new weights like every trained generator's. The update of
    the EMA generator is merged, so each weight changes by a matrix of rank <= ``rank`` (reshaped to
    ``W.shape[0] x rest``) and the result has the input's plain architecture (no parametrizations), in eval
    mode. ``steps=0`` returns an unchanged copy. Inputs are never modified.
    """
    out = fresh_copy(model, "lora_finetuning")
    steps = check_steps(steps, "lora_finetuning")
    config = check_training_context("lora_finetuning", data, gan_config, discriminator)
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"lora_finetuning: rank must be an int >= 1, got {rank!r}")
    layers = target_layers(out, "lora_finetuning")
    if steps == 0:
        return out
    gen = torch.Generator().manual_seed(int(seed))
    for _, layer in layers:
        update = LowRankUpdate(layer.weight.shape, rank, gen).to(layer.weight.device)
        parametrize.register_parametrization(layer, "weight", update)
    trained = train_generator(out, steps, seed=seed, data=data, gan_config=config, discriminator=discriminator,
                              device=device, trainable=_is_adapter)
    for module in trained.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
    return trained
