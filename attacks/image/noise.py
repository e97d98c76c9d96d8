"""Additive Gaussian pixel noise."""

from __future__ import annotations

import torch

from fpbench.attacks.image._checks import check_images, image_generator
from fpbench.attacks.registry import register_attack


@register_attack(
    "gaussian_noise", kind="image", param="std", unit="std in [0,1] pixel units",
    grid=(0.0, 0.02, 0.056, 0.11, 0.22, 0.5), neutral=0.0, domain=(0.0, 1.0), category="noise",
    version=1, differentiable=True,
)
def gaussian_noise(images: torch.Tensor, std: float = 0.05, *, seed: int = 0) -> torch.Tensor:
    """Add i.i.d. N(0, std^2) noise to every pixel and clamp to [0,1].

    ``images``: Bx3xHxW float in [0,1]. Image ``i`` draws its noise from its own generator seeded by
    ``(seed, i)`` (see :func:`attacks.image._checks.image_generator`), so results are reproducible and
    do not depend on the batch size. ``std=0`` returns the input unchanged.
    """
    check_images(images, "gaussian_noise")
    if std == 0:
        return images.clone()
    shape = images.shape[1:]
    noise = torch.stack([
        torch.randn(shape, generator=image_generator(seed, i), dtype=torch.float32)
        for i in range(images.shape[0])
    ]) if images.shape[0] else torch.zeros_like(images)
    return (images + std * noise.to(images.device, images.dtype)).clamp_(0.0, 1.0)
