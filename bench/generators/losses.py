"""Adversarial losses, by id: ``LOSSES.get("hinge")`` -> :class:`GanLoss`.

- ``hinge`` (Lim & Ye 2017; SNGAN, BigGAN): D minimises ``relu(1 - D(x)) + relu(1 + D(G(z)))``,
  G minimises ``-D(G(z))``. Stable with a spectrally normalised D; the default.
- ``nonsat`` (Goodfellow et al. 2014, non-saturating): D minimises ``softplus(-D(x)) + softplus(D(G(z)))``
  (binary cross-entropy on logits), G minimises ``softplus(-D(G(z)))``.
All are batch means of per-sample terms; logits are ``B`` floats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from fpbench.registry import Registry


@dataclass(frozen=True)
class GanLoss:
    id: str
    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (real, fake logits) -> loss
    generator: Callable[[torch.Tensor], torch.Tensor]  # fake logits -> loss


LOSSES: Registry[GanLoss] = Registry("GAN loss")

LOSSES.add("hinge", GanLoss(
    "hinge",
    discriminator=lambda real, fake: F.relu(1 - real).mean() + F.relu(1 + fake).mean(),
    generator=lambda fake: -fake.mean(),
))
LOSSES.add("nonsat", GanLoss(
    "nonsat",
    discriminator=lambda real, fake: F.softplus(-real).mean() + F.softplus(fake).mean(),
    generator=lambda fake: F.softplus(-fake).mean(),
))
