"""Bit scrambling by projected gradient descent (L-inf) against a fingerprint decoder.

The adversary does not know the victim's fingerprint, so it pushes each image's decoded logits towards a
random bit string of its own (drawn from ``(seed, image index)``): agreement with the true fingerprint
then falls towards 1/2, which the one-sided binomial test reads as "not fingerprinted".

- ``surrogate_pgd``: against the adversary's surrogate decoder (the realistic, transfer attack);
- ``whitebox_pgd``: against the victim's true decoder (an upper bound on what PGD can do).

Random start in the eps-ball, ``steps`` signed-gradient steps of size ``2.5 eps / steps`` (Madry et al.),
projection onto the eps-ball and [0,1] after every step. ``eps`` is in 1/255 units: the L-inf distance
of output and input is at most ``eps / 255`` (up to float32 rounding, < 1e-7).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fpbench.attacks.adaptive._context import (
    check_adaptive_images,
    check_resolution,
    image_generator,
    require,
)
from fpbench.attacks.registry import register_attack

BATCH = 256


def pgd_scramble(images: torch.Tensor, eps: float, *, seed: int, decoder: nn.Module, steps: int = 40,
                 attack: str = "pgd") -> torch.Tensor:
    """The shared PGD loop. ``images``: Bx3xRxR float in [0,1]; ``decoder``: image -> B x n_bits logits."""
    check_adaptive_images(images, attack)
    if int(steps) != steps or steps < 1:
        raise ValueError(f"{attack}: steps must be a positive integer, got {steps!r}")
    radius = float(eps) / 255.0
    if radius == 0 or len(images) == 0:
        return images.clone()
    check_resolution(images, decoder, "decoder", attack)
    n_bits = getattr(decoder, "n_bits", None)
    device = next(decoder.parameters()).device
    step_size = 2.5 * radius / steps
    out = []
    for start in range(0, len(images), BATCH):
        x0 = images[start:start + BATCH].detach().to(device)
        gens = [image_generator(seed, start + i) for i in range(len(x0))]
        with torch.no_grad():
            n = n_bits or decoder(x0[:1]).shape[1]
        target = torch.stack([torch.randint(0, 2, (n,), generator=g).float() for g in gens]).to(device)
        init = torch.stack([torch.rand(x0.shape[1:], generator=g) for g in gens]).to(device)
        delta = ((x0 + (2 * init - 1) * radius).clamp(0, 1) - x0).clamp(-radius, radius)
        for _ in range(int(steps)):
            x = (x0 + delta).requires_grad_(True)
            loss = F.binary_cross_entropy_with_logits(decoder(x), target)
            (grad,) = torch.autograd.grad(loss, x)
            delta = (delta - step_size * grad.sign()).clamp(-radius, radius)
            delta = (x0 + delta).clamp(0, 1) - x0
        out.append((x0 + delta).detach().clamp(0, 1).to(images.device))
    return torch.cat(out)


@register_attack(
    "surrogate_pgd", kind="adaptive", param="eps", unit="L-inf radius in 1/255 steps",
    grid=(2, 4, 8, 16), neutral=0, domain=(0, 255), category="removal", version=1, differentiable=True,
    description="PGD (L-inf) against the adversary's surrogate decoder towards random bits.",
    needs=("surrogate_decoder",), optional=("pgd_steps",),
)
def surrogate_pgd(images: torch.Tensor, eps: float = 8, *, seed: int = 0,
                  surrogate_decoder: nn.Module | None = None, pgd_steps: int = 40) -> torch.Tensor:
    """``images``: Bx3xRxR float in [0,1] -> same shape, within ``eps/255`` in L-inf."""
    dec = require(surrogate_decoder, "surrogate_decoder", "surrogate_pgd", nn.Module)
    return pgd_scramble(images, eps, seed=seed, decoder=dec, steps=pgd_steps, attack="surrogate_pgd")


@register_attack(
    "whitebox_pgd", kind="adaptive", param="eps", unit="L-inf radius in 1/255 steps",
    grid=(2, 4, 8, 16), neutral=0, domain=(0, 255), category="removal", version=1, differentiable=True,
    description="PGD (L-inf) against the victim's true decoder towards random bits (upper bound).",
    needs=("victim_decoder",), optional=("pgd_steps",),
)
def whitebox_pgd(images: torch.Tensor, eps: float = 8, *, seed: int = 0,
                 victim_decoder: nn.Module | None = None, pgd_steps: int = 40) -> torch.Tensor:
    """``images``: Bx3xRxR float in [0,1] -> same shape, within ``eps/255`` in L-inf."""
    dec = require(victim_decoder, "victim_decoder", "whitebox_pgd", nn.Module)
    return pgd_scramble(images, eps, seed=seed, decoder=dec, steps=pgd_steps, attack="whitebox_pgd")
