"""Exponential moving average of generator weights, and BatchNorm recalibration for the averaged copy."""

from __future__ import annotations

import copy

import torch
from torch import nn

from fpbench.generators.sampling import sample_latents


def make_ema(generator: nn.Module) -> nn.Module:
    """A frozen deep copy of ``generator`` (eval mode, no grad) to hold the moving average."""
    ema = copy.deepcopy(generator).eval()
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema: nn.Module, generator: nn.Module, decay: float, step: int) -> None:
    """``ema <- d * ema + (1 - d) * generator`` for parameters, with the warm-up
    ``d = min(decay, (1 + step) / (10 + step))`` so short runs are not dominated by the random init.
    Buffers (BatchNorm running statistics) are copied, not averaged."""
    d = min(decay, (1 + step) / (10 + step))
    for p_ema, p in zip(ema.parameters(), generator.parameters(), strict=True):
        p_ema.lerp_(p.detach(), 1 - d)
    for b_ema, b in zip(ema.buffers(), generator.buffers(), strict=True):
        b_ema.copy_(b)


@torch.no_grad()
def recalibrate_batchnorm(
    generator: nn.Module, *, seed: int, n_batches: int = 16, batch_size: int = 64
) -> nn.Module:
    """Recompute BatchNorm running statistics of ``generator`` in place from ``n_batches`` seeded
    latent batches (a cumulative average), then leave it in eval mode. The running statistics copied
    from the online generator do not match the averaged weights; this makes eval-mode samples of the
    EMA generator match its train-mode behaviour. A generator without BatchNorm is returned unchanged."""
    bns = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return generator.eval()
    device = next(generator.parameters()).device
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average
    generator.train()
    z = sample_latents(n_batches * batch_size, generator.latent_dim, seed)
    for chunk in z.split(batch_size):
        generator(chunk.to(device))
    for bn, m in zip(bns, momenta, strict=True):
        bn.momentum = m
    return generator.eval()
