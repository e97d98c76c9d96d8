"""Deterministic sampling from a generator: the same seed gives the same images at any batch size."""

from __future__ import annotations

import torch
from torch import nn


def sample_latents(n: int, latent_dim: int, seed: int) -> torch.Tensor:
    """``n x latent_dim`` standard-normal latents drawn on the CPU from their own seeded generator
    (so the global RNG is untouched and the result is the same on every device). Drawn one row at a
    time, so the first k rows do not depend on n (torch's CPU ``randn`` switches algorithm with the
    tensor size, so one big draw would not have that property)."""
    gen = torch.Generator().manual_seed(int(seed))
    if n == 0:
        return torch.empty(0, latent_dim)
    return torch.stack([torch.randn(latent_dim, generator=gen) for _ in range(n)])


def _infer_latent_dim(generator: nn.Module) -> int:
    latent_dim = getattr(generator, "latent_dim", None)
    if not isinstance(latent_dim, int):
        raise ValueError(f"{type(generator).__name__} has no int attribute `latent_dim`; pass latent_dim=")
    return latent_dim


@torch.no_grad()
def sample(
    generator: nn.Module,
    n: int,
    *,
    seed: int,
    batch_size: int = 256,
    latent_dim: int | None = None,
) -> torch.Tensor:
    """Draw ``n`` images: float ``n x 3 x R x R`` in [0, 1] on the CPU.

    Latents are pre-drawn from ``seed`` (see :func:`sample_latents`), so the batch size only changes
    speed. The generator runs in eval mode (BatchNorm uses running statistics) under no_grad; its
    previous train/eval mode is restored afterwards. ``latent_dim`` defaults to ``generator.latent_dim``.

    >>> from fpbench.generators import GENERATORS
    >>> G, _ = GENERATORS.get("dcgan")(16, 8, 4)
    >>> sample(G, 5, seed=0, batch_size=2).shape
    torch.Size([5, 3, 16, 16])
    """
    if n < 0 or batch_size < 1:
        raise ValueError(f"need n >= 0 and batch_size >= 1, got n={n}, batch_size={batch_size}")
    latent_dim = _infer_latent_dim(generator) if latent_dim is None else latent_dim
    z = sample_latents(n, latent_dim, seed)
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        out = [generator(chunk.to(device)).float().cpu() for chunk in z.split(batch_size)]
    finally:
        generator.train(was_training)
    if not out:
        res = int(getattr(generator, "resolution", 0))
        return torch.empty(0, 3, res, res)
    return torch.cat(out).clamp_(0, 1)
