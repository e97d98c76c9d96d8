"""Input checks shared by every baseline: images and labels, validated at the door.

Image convention: ``X`` is Nx3xHxW, a numpy array or torch tensor, either float in [0, 1] or uint8 in
0..255 (divided by 255). Other dtypes (bool, int16, int64, ...) are rejected: their scale is ambiguous.
"""

from __future__ import annotations

import numpy as np
import torch

N_CHANNELS = 3


def check_images(X, *, name: str = "X") -> np.ndarray:
    """Validate images and return them as a C-contiguous float32 array Nx3xHxW in [0, 1]."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or torch tensor of shape Nx3xHxW, got {type(X).__name__}")
    if X.ndim != 4:
        raise ValueError(f"{name} must have 4 dimensions (Nx3xHxW), got shape {X.shape}")
    if X.shape[1] != N_CHANNELS:
        raise ValueError(
            f"{name} must have {N_CHANNELS} channels in dimension 1 (Nx3xHxW, channels first), got shape {X.shape}"
        )
    if X.shape[0] == 0 or X.shape[2] == 0 or X.shape[3] == 0:
        raise ValueError(f"{name} is empty: shape {X.shape}")
    if X.dtype == np.uint8:
        return np.ascontiguousarray(X, dtype=np.float32) / np.float32(255.0)
    if not np.issubdtype(X.dtype, np.floating):
        raise ValueError(f"{name} must be float in [0, 1] or uint8 in 0..255, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    lo, hi = float(X.min()), float(X.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name} must lie in [0, 1] (float) or 0..255 (uint8); got values in [{lo:.4g}, {hi:.4g}]")
    return X


def check_labels(y, n_samples: int) -> np.ndarray:
    """Validate labels (integers or strings) for ``n_samples`` images; returns a 1-D numpy array."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per image), got shape {y.shape}")
    if len(y) != n_samples:
        raise ValueError(f"X has {n_samples} images but y has {len(y)} labels")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not np.array_equal(y, np.round(y)):
            raise ValueError("y must hold integer or string class labels, got non-integer floats")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "biuUSO":
        raise ValueError(f"y must hold integer, boolean or string class labels, got dtype {y.dtype}")
    return y
