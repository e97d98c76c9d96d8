"""Fine-pruning (Liu et al. 2018): prune the least-active channels of the last hidden layer, then fine-tune.

Liu et al. remove a backdoor by pruning the neurons of a network's last convolutional layer that are
least active on clean inputs (the backdoor hides in dormant units), then fine-tuning on clean data. For
a generator the last hidden layer is the input of its RGB output layer: its channels' mean activations are
measured on sampled latents, the ``amount`` fraction with the smallest mean is cut (their weights into the
output layer are zeroed, which removes them from every image), and the generator is fine-tuned with
fpbench's GAN trainer on clean images with the pruning mask in place, so pruned channels stay cut.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from fpbench.attacks.model.layers import fresh_copy, target_layers
from fpbench.attacks.model.threats import CLEAN_DATA, FID_BUDGET
from fpbench.attacks.model.training import check_steps, check_training_context, train_generator
from fpbench.attacks.registry import ThreatCard, register_attack

#: GAN fine-tuning steps after pruning
FINETUNE_STEPS = 300
#: latents whose activations rank the channels
N_LATENTS = 256


def input_channel_dim(layer: nn.Module) -> int:
    """The weight dimension that indexes input channels: 0 for transposed convs, 1 for convs and linear."""
    return 0 if isinstance(layer, nn.modules.conv._ConvTransposeNd) else 1


@torch.no_grad()
def channel_activity(model: nn.Module, layer: nn.Module, latents: torch.Tensor) -> torch.Tensor:
    """Mean activation of each input channel of ``layer`` when ``model`` (eval mode) generates from
    ``latents``: a float vector with one entry per channel (averaged over batch and spatial positions)."""
    seen: list[torch.Tensor] = []
    handle = layer.register_forward_pre_hook(lambda _, args: seen.append(args[0].detach().float()))
    was_training = model.training
    try:
        model.eval()(latents)
    finally:
        handle.remove()
        model.train(was_training)
    x = seen[0]
    return x.transpose(0, 1).reshape(x.shape[1], -1).mean(dim=1)


def least_active(activity: torch.Tensor, amount: float) -> torch.Tensor:
    """Indices (ascending) of the ``round(amount * C)`` channels with the smallest mean activation (ties
    broken by channel index)."""
    k = round(float(amount) * activity.numel())
    order = sorted(range(activity.numel()), key=lambda i: (float(activity[i]), i))
    return torch.tensor(sorted(order[:k]), dtype=torch.long)


def channel_mask(layer: nn.Module, channels: torch.Tensor) -> torch.Tensor:
    """A 0/1 mask of ``layer.weight``'s shape that cuts the input ``channels`` of ``layer``."""
    mask = torch.ones_like(layer.weight.detach())
    mask.index_fill_(input_channel_dim(layer), channels.to(mask.device), 0.0)
    return mask


class Masked(nn.Module):
    """The parametrization ``W -> W * mask`` (``mask`` a buffer): what keeps cut channels cut in training."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.mask


@register_attack(
    "fine_pruning", kind="model", param="amount", unit="fraction of last-hidden-layer channels pruned",
    grid=(0.25, 0.5, 0.75, 0.9), neutral=None, domain=(0.0, 1.0), category="pruning",
    description=f"Fine-pruning (Liu et al. 2018): cut the least-active channels (on sampled latents) of the "
    f"input of the RGB output layer, then `finetune_steps` (context; default {FINETUNE_STEPS}) GAN steps on clean "
    "real images with the cut in place.",
    needs=("data", "gan_config"), optional=("discriminator", "device", "finetune_steps"),
    threat=ThreatCard("grey-box", data=CLEAN_DATA + f"; {N_LATENTS} sampled latents to rank channels",
                      compute=f"`finetune_steps` (default {FINETUNE_STEPS}) GAN training steps at the model's batch "
                      "size", quality=FID_BUDGET),
)
def fine_pruning(
    model: nn.Module,
    amount: float,
    *,
    seed: int = 0,
    data: torch.Tensor | None = None,
    gan_config: Any = None,
    discriminator: nn.Module | None = None,
    device: str | torch.device | None = None,
    finetune_steps: int = FINETUNE_STEPS,
) -> nn.Module:
    """Return ``model`` with the ``amount`` fraction (``round(amount * C)`` of C) of least-active channels of
    its last hidden layer cut, then fine-tuned for ``finetune_steps`` GAN steps on ``data`` (clean uint8
    ``N x 3 x R x R``) with ``gan_config`` (steps and seed replaced; ``discriminator``/``device`` as in
    :func:`~fpbench.attacks.model.finetuning.finetuning`).

    The last hidden layer is the input of the last Conv/ConvTranspose/Linear layer (the RGB output layer);
    its channels are ranked by mean activation over :data:`N_LATENTS` latents sampled from ``seed`` (model
    in eval mode). A cut channel's weights into the output layer are zero, and stay zero through
    fine-tuning (a masking parametrization, merged at the end: the result is a plain module). The
    result is the fine-tuned EMA generator in eval mode. ``finetune_steps=0`` prunes only.
    """
    out = fresh_copy(model, "fine_pruning")
    amount = float(amount)
    if not 0.0 <= amount <= 1.0:  # NaN fails too
        raise ValueError(f"fine_pruning: amount must be a fraction in [0, 1], got {amount}")
    finetune_steps = check_steps(finetune_steps, "fine_pruning")
    config = check_training_context("fine_pruning", data, gan_config, discriminator)
    _, last = target_layers(out, "fine_pruning")[-1]
    if getattr(last, "groups", 1) != 1:
        raise ValueError("fine_pruning: the output layer is a grouped convolution; only groups=1 is supported")
    from fpbench.generators import sample_latents

    first = next(out.parameters())
    latents = sample_latents(N_LATENTS, config.latent_dim, int(seed)).to(first.device)
    cut = least_active(channel_activity(out, last, latents), amount)
    parametrize.register_parametrization(last, "weight", Masked(channel_mask(last, cut)))
    if finetune_steps > 0:
        out = train_generator(out, finetune_steps, seed=seed, data=data, gan_config=config,
                              discriminator=discriminator, device=device)
    for module in out.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
    return out.eval()
