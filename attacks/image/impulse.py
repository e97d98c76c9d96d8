"""Impulse (salt-and-pepper) noise."""

from __future__ import annotations

import torch

from fpbench.attacks.image._checks import check_images, image_generator
from fpbench.attacks.registry import register_attack


@register_attack(
    "salt_pepper", kind="image", param="amount", unit="expected fraction of pixels replaced",
    grid=(0.0, 0.01, 0.05, 0.1, 0.2), neutral=0.0, domain=(0.0, 1.0), category="noise", version=1,
    differentiable=True,
)
def salt_pepper(images: torch.Tensor, amount: float = 0.05, *, seed: int = 0) -> torch.Tensor:
    """Set each pixel, with probability ``amount``, to black (0) or white (1) in all three channels.

    ``images``: Bx3xHxW float in [0,1]. Salt and pepper are equally likely, as in
    ``skimage.util.random_noise(mode="s&p")`` (which draws per channel; here a pixel turns black or
    white as a whole). Image ``i`` draws one uniform ``u`` per pixel from its generator seeded by
    ``(seed, i)``: ``u < amount/2`` is pepper, ``amount/2 <= u < amount`` salt. ``amount=0`` is the identity.
    """
    check_images(images, "salt_pepper")
    if amount == 0:
        return images.clone()
    b, _, h, w = images.shape
    u = torch.stack([torch.rand(1, h, w, generator=image_generator(seed, i), dtype=torch.float64)
                     for i in range(b)]) if b else torch.ones(0, 1, h, w, dtype=torch.float64)
    u = u.to(images.device)
    value = (u >= amount / 2).to(images.dtype)  # 0 (pepper) or 1 (salt) where replaced
    return torch.where(u < amount, value, images)
