"""Shared checks for the adaptive attacks: images at the door, the adversary's tools (context fields) present."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fpbench.attacks.image._checks import check_images, image_generator

__all__ = ["add_noise", "as_float", "check_adaptive_images", "check_resolution", "check_training_images",
           "fit_denoising", "image_generator", "require"]


def check_adaptive_images(images: object, attack: str) -> torch.Tensor:
    """Bx3xHxW float in [0,1] (see :func:`attacks.image._checks.check_images`)."""
    return check_images(images, attack)


def require(value: object, name: str, attack: str, kind: type | tuple[type, ...]) -> object:
    """Return a context item, or raise naming what the attack needs and why it is missing."""
    if value is None:
        raise ValueError(f"{attack}: needs `{name}` in its context: spec(images, value, seed=0, "
                         f"context=AttackContext({name}=...)), or the keyword {name}=...")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ValueError(f"{attack}: `{name}` must be a {names}, got {type(value).__name__}")
    return value


def check_resolution(images: torch.Tensor, net: nn.Module, name: str, attack: str) -> None:
    """The adversary's networks work at one resolution; say so instead of failing inside a conv."""
    r = getattr(net, "resolution", None)
    if r is not None and tuple(images.shape[-2:]) != (r, r):
        raise ValueError(f"{attack}: `{name}` works on {r}x{r} images, got {images.shape[-2]}x{images.shape[-1]}")


def as_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 or float [0,1] -> float32 [0,1] (for pools of observed images)."""
    return images.float().div(255) if images.dtype == torch.uint8 else images.float()


def add_noise(images: torch.Tensor, std: float, seed: int) -> torch.Tensor:
    """``images`` + N(0, std^2), clamped to [0,1]; image ``i``'s noise comes from its own generator seeded by
    ``(seed, i)``, so an image's output does not depend on the batch it is in. ``std=0``: the images as they are."""
    if std == 0 or len(images) == 0:
        return images
    noise = torch.stack([torch.randn(images.shape[1:], generator=image_generator(seed, i)) for i in range(len(images))])
    return (images + std * noise.to(images.device, images.dtype)).clamp(0, 1)


def check_training_images(images: torch.Tensor, what: str) -> None:
    """The adversary trains its tools on uint8 Nx3xRxR photos."""
    if images.ndim != 4 or images.shape[1] != 3 or images.dtype != torch.uint8 or len(images) == 0:
        raise ValueError(f"{what} training needs uint8 Nx3xRxR images, got {images.dtype} {tuple(images.shape)}")


def fit_denoising(net: nn.Module, images: torch.Tensor, *, steps: int, batch_size: int, lr: float, max_noise: float,
                  seed: int, device: str = "cpu") -> nn.Module:
    """Train ``net`` (on ``device``) to map a noisy image back to the clean one: MSE on batches of uint8 Nx3xRxR
    ``images`` with Gaussian noise whose std is drawn uniformly from [0, ``max_noise``] per image. Batches,
    noise levels and noise come from one generator seeded by ``seed`` (deterministic; the global RNG is
    untouched). Returns ``net`` in eval mode."""
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(steps):
        idx = torch.randint(0, len(images), (batch_size,), generator=gen)
        x = images[idx].float().div(255)
        std = torch.rand(batch_size, 1, 1, 1, generator=gen) * max_noise
        noisy = (x + std * torch.randn(x.shape, generator=gen)).clamp(0, 1)
        loss = F.mse_loss(net(noisy.to(device)), x.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()
