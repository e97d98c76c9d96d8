"""Gaussian blur with an OpenCV-style sigma rule."""

from __future__ import annotations

import torch

from fpbench.attacks.image._checks import check_images, check_odd_kernel
from fpbench.attacks.registry import register_attack


def blur_sigma(kernel_size: int) -> float:
    """OpenCV's default sigma for a kernel size: ``0.3 * ((k - 1) * 0.5 - 1) + 0.8`` (k=3 -> 0.8)."""
    return 0.3 * ((kernel_size - 1) * 0.5 - 1) + 0.8


def gaussian_kernel1d(kernel_size: int, sigma: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Normalised 1-D Gaussian of ``kernel_size`` taps centred on the middle tap."""
    x = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).to(dtype)


def reflect_filter_matrix(size: int, kernel: torch.Tensor) -> torch.Tensor:
    """``size x size`` matrix M with ``M @ v`` = ``v`` correlated with ``kernel`` under reflect padding.

    Reflect padding mirrors about the edge pixel without repeating it (``dcb|abcd|cba``: PyTorch
    'reflect', scipy.ndimage 'mirror'); the padding is folded into the matrix, so a separable 2-D
    filter is two batched matrix products, much faster on CPU than a one-channel convolution.
    """
    k = kernel.numel()
    pad = k // 2
    if pad >= size:
        raise ValueError(f"kernel of {k} taps is too large for a side of {size} pixels (reflect padding "
                         f"needs kernel_size <= {2 * size - 1})")
    rows = torch.arange(size)[:, None].expand(size, k)
    src = (rows + torch.arange(k)[None, :] - pad).abs()
    src = torch.where(src > size - 1, 2 * (size - 1) - src, src)
    m = torch.zeros(size, size, dtype=torch.float64)
    m.index_put_((rows, src), kernel.double().expand(size, k), accumulate=True)
    return m


def separable_filter(images: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Correlate every channel of Bx3xHxW ``images`` with ``kernel`` along H then W, reflect padding."""
    h, w = images.shape[-2:]
    mh = reflect_filter_matrix(h, kernel).to(images.device, images.dtype)
    mw = reflect_filter_matrix(w, kernel).to(images.device, images.dtype)
    return mh @ images @ mw.T


@register_attack(
    "gaussian_blur", kind="image", param="kernel_size", unit="pixels (odd; 0 = identity)",
    grid=(0, 3, 5, 9, 13, 17), neutral=0, domain=(0, 63), category="blur", version=1, integer=True,
    differentiable=True,
)
def gaussian_blur(images: torch.Tensor, kernel_size: int = 5, *, seed: int = 0) -> torch.Tensor:
    """Gaussian blur with a ``kernel_size`` x ``kernel_size`` kernel, sigma from :func:`blur_sigma`.

    ``images``: Bx3xHxW float in [0,1]. ``kernel_size`` 0 or 1 is the identity; otherwise an odd int.
    Borders use reflect padding (PyTorch 'reflect' = scipy 'mirror'). Deterministic: ``seed`` is unused.
    """
    check_images(images, "gaussian_blur")
    k = check_odd_kernel(kernel_size, "gaussian_blur", allow_zero=True)
    if k <= 1:
        return images.clone()
    out = separable_filter(images, gaussian_kernel1d(k, blur_sigma(k)))
    return out.clamp_(0.0, 1.0)
