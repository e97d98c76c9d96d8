"""Projected gradient descent (L-inf) for the adaptive attacks: one loop, several objectives.

:func:`pgd_linf` is the loop every PGD attack shares: a random start in the eps-ball, ``steps``
signed-gradient steps of size ``2.5 eps / steps`` (Madry et al.), projection onto the eps-ball and [0,1]
after every step, and the result rounded to the uint8 grid (like every saved image) without leaving the
ball. ``eps`` is in 1/255 units. The attacks differ only in the loss they minimise:

- bit scrambling (here): the adversary does not know the victim's fingerprint, so it pushes each image's
  decoded logits towards a random bit string of its own (drawn from ``(seed, image index)``): agreement
  with the true fingerprint then falls towards 1/2, which the one-sided binomial test reads as "not
  fingerprinted". ``surrogate_pgd`` attacks the adversary's surrogate decoder (the realistic, transfer
  attack), ``whitebox_pgd`` the victim's true decoder (an upper bound on what PGD can do);
- embedding distance (:mod:`attacks.adaptive.embedding`, WAVES' embedding attacks).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from fpbench.attacks.adaptive._context import (
    check_adaptive_images,
    check_resolution,
    image_generator,
    require,
)
from fpbench.attacks.registry import ThreatCard, register_attack

BATCH = 256
_GRID_SLACK = 1e-4  # in 1/255 units: float32 error of k/255*255, far below one level

#: ``objective(x0, generators) -> loss``: given a batch's clean images (on the device) and each image's own
#: generator (to draw per-image targets from), the loss to minimise, a function of the attacked batch
#: returning a scalar that is a sum or mean of per-image terms (so an image's gradient ignores its batch)
Objective = Callable[[torch.Tensor, list[torch.Generator]], Callable[[torch.Tensor], torch.Tensor]]


def check_steps(steps: object, attack: str) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, float)) or int(steps) != steps or steps < 1:
        raise ValueError(f"{attack}: steps must be a positive integer, got {steps!r}")
    return int(steps)


def round_in_ball(x: torch.Tensor, x0: torch.Tensor, eps: float) -> torch.Tensor:
    """``x`` rounded to the uint8 grid (k/255), kept within ``eps``/255 of ``x0`` in L-inf and in [0,1].

    Each pixel goes to its nearest grid level, clamped to the grid levels inside the ball, so the bound
    holds exactly when ``x0`` is on the grid (every saved image is) or ``eps >= 1``; an off-grid pixel whose
    ball holds no level (``eps < 1``) keeps ``round(x0)``."""
    level, level0 = x * 255, x0 * 255
    lo = torch.ceil(level0 - eps - _GRID_SLACK).clamp(0, 255)
    hi = torch.floor(level0 + eps + _GRID_SLACK).clamp(0, 255)
    empty = lo > hi
    rounded = torch.maximum(torch.minimum(torch.round(level), hi), lo)
    return torch.where(empty, torch.round(level0), rounded) / 255


def pgd_linf(images: torch.Tensor, eps: float, objective: Objective, *, steps: int, seed: int, device: torch.device,
             attack: str = "pgd") -> torch.Tensor:
    """Minimise ``objective`` within the L-inf ball of radius ``eps``/255 around Bx3xHxW float ``images``
    in [0,1]; returns the result on the uint8 grid (see :func:`round_in_ball`), on ``images``' device.

    Image ``i``'s random start (and any target ``objective`` draws) comes from its own generator seeded by
    ``(seed, i)``, and the loss is a sum of per-image terms, so its output does not depend on the batch."""
    check_adaptive_images(images, attack)
    steps = check_steps(steps, attack)
    radius = float(eps) / 255.0
    if radius == 0 or len(images) == 0:
        return images.clone()
    step_size = 2.5 * radius / steps
    out = []
    for start in range(0, len(images), BATCH):
        x0 = images[start:start + BATCH].detach().to(device)
        gens = [image_generator(seed, start + i) for i in range(len(x0))]
        loss_fn = objective(x0, gens)
        init = torch.stack([torch.rand(x0.shape[1:], generator=g) for g in gens]).to(device)
        delta = ((x0 + (2 * init - 1) * radius).clamp(0, 1) - x0).clamp(-radius, radius)
        for _ in range(steps):
            x = (x0 + delta).requires_grad_(True)
            (grad,) = torch.autograd.grad(loss_fn(x), x)
            delta = (delta - step_size * grad.sign()).clamp(-radius, radius)
            delta = (x0 + delta).clamp(0, 1) - x0
        out.append(round_in_ball((x0 + delta).detach(), x0, float(eps)).to(images.device))
    return torch.cat(out)


def pgd_scramble(images: torch.Tensor, eps: float, *, seed: int, decoder: nn.Module, steps: int = 40,
                 attack: str = "pgd") -> torch.Tensor:
    """Bit scrambling: ``images`` Bx3xRxR float in [0,1]; ``decoder``: image -> B x n_bits logits."""
    check_adaptive_images(images, attack)
    check_steps(steps, attack)
    if eps == 0 or len(images) == 0:
        return images.clone()
    check_resolution(images, decoder, "decoder", attack)
    device = next(decoder.parameters()).device

    def objective(x0: torch.Tensor, gens: list[torch.Generator]) -> Callable[[torch.Tensor], torch.Tensor]:
        n = getattr(decoder, "n_bits", None)
        if n is None:
            with torch.no_grad():
                n = decoder(x0[:1]).shape[1]
        target = torch.stack([torch.randint(0, 2, (n,), generator=g).float() for g in gens]).to(device)
        return lambda x: F.binary_cross_entropy_with_logits(decoder(x), target, reduction="sum") / math.prod(target.shape[1:])

    return pgd_linf(images, eps, objective, steps=steps, seed=seed, device=device, attack=attack)


def _pgd_threat(knowledge: str, against: str) -> ThreatCard:
    return ThreatCard(
        knowledge=knowledge,
        data=against,
        compute="pgd_steps forward+backward passes per image (20 in quick); no queries to the victim",
        quality="L-inf <= eps/255 vs the unattacked image (uint8 output); PSNR reported")


@register_attack(
    "surrogate_pgd", kind="adaptive", param="eps", unit="L-inf radius in 1/255 steps",
    grid=(2, 4, 8, 16), neutral=0, domain=(0, 255), category="removal", version=2, differentiable=True,
    description="PGD (L-inf) against the adversary's surrogate decoder towards random bits.",
    needs=("surrogate_decoder",), optional=("pgd_steps",),
    threat=_pgd_threat("grey-box", "its surrogate decoder, trained with the victim's method on the holdout photos "
                                   "(disjoint from the victim's data)"),
)
def surrogate_pgd(images: torch.Tensor, eps: float = 8, *, seed: int = 0,
                  surrogate_decoder: nn.Module | None = None, pgd_steps: int = 40) -> torch.Tensor:
    """``images``: Bx3xRxR float in [0,1] -> same shape, on the uint8 grid, within ``eps/255`` in L-inf."""
    dec = require(surrogate_decoder, "surrogate_decoder", "surrogate_pgd", nn.Module)
    return pgd_scramble(images, eps, seed=seed, decoder=dec, steps=pgd_steps, attack="surrogate_pgd")


@register_attack(
    "whitebox_pgd", kind="adaptive", param="eps", unit="L-inf radius in 1/255 steps",
    grid=(2, 4, 8, 16), neutral=0, domain=(0, 255), category="removal", version=2, differentiable=True,
    description="PGD (L-inf) against the victim's true decoder towards random bits (upper bound).",
    needs=("victim_decoder",), optional=("pgd_steps",),
    threat=_pgd_threat("white-box", "the victim's own decoder (weights and gradients); no data beyond the attacked "
                                    "image"),
)
def whitebox_pgd(images: torch.Tensor, eps: float = 8, *, seed: int = 0,
                 victim_decoder: nn.Module | None = None, pgd_steps: int = 40) -> torch.Tensor:
    """``images``: Bx3xRxR float in [0,1] -> same shape, on the uint8 grid, within ``eps/255`` in L-inf."""
    dec = require(victim_decoder, "victim_decoder", "whitebox_pgd", nn.Module)
    return pgd_scramble(images, eps, seed=seed, decoder=dec, steps=pgd_steps, attack="whitebox_pgd")
