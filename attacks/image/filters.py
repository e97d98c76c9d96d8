"""Non-linear filters: the median filter."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fpbench.attacks.image._checks import check_images, check_odd_kernel
from fpbench.attacks.registry import register_attack

# Images per unfold chunk: bounds the k*k-fold copy to ~64 * 3 * 81 * 1024 floats at 32x32, k=9.
_CHUNK_PIXELS = 1 << 22


@register_attack(
    "median_filter", kind="image", param="kernel_size", unit="pixels (odd)",
    grid=(1, 3, 5, 9), neutral=1, domain=(1, 63), category="filter", version=1, integer=True,
    differentiable=True,
)
def median_filter(images: torch.Tensor, kernel_size: int = 3, *, seed: int = 0) -> torch.Tensor:
    """Per-channel median over a ``kernel_size`` x ``kernel_size`` window, reflect padding.

    ``images``: Bx3xHxW float in [0,1]; ``kernel_size`` odd, 1 = identity. Borders use reflect padding
    (PyTorch 'reflect' = scipy.ndimage 'mirror'). Deterministic: ``seed`` is unused.
    """
    check_images(images, "median_filter")
    k = check_odd_kernel(kernel_size, "median_filter", allow_zero=False)
    if k == 1 or images.shape[0] == 0:
        return images.clone()
    b, c, h, w = images.shape
    pad = k // 2
    if pad >= min(h, w):
        raise ValueError(f"median_filter: kernel_size {k} is too large for {h}x{w} images")
    flat = images.reshape(b * c, h, w)
    step = max(1, _CHUNK_PIXELS // (k * k * h * w))
    parts = []
    for start in range(0, b * c, step):
        x = F.pad(flat[start:start + step], (pad, pad, pad, pad), mode="reflect")
        windows = x.unfold(1, k, 1).unfold(2, k, 1)  # N x H x W x k x k
        # the k*k window values contiguous in the last dim: the fastest layout for median on CPU
        parts.append(windows.reshape(-1, h, w, k * k).median(dim=-1).values)
    return torch.cat(parts).reshape(b, c, h, w)
