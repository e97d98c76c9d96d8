"""Noise residuals: an image minus a denoised copy of itself, the signal PRNU-style fingerprints live in.

Shared by the Marra 2019 baseline (class fingerprints are mean residuals) and the averaging attack (the
adversary estimates the fingerprint pattern the same way), so both sit on one core function.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter, median_filter

from fpbench.registry import check_choice

DENOISERS = ("gaussian", "median")


def noise_residual(X: np.ndarray, denoiser: str = "gaussian", sigma: float = 1.0) -> np.ndarray:
    """``X - denoise(X)`` for Nx3xHxW images, filtering each channel spatially; float64. ``"gaussian"``:
    scipy.ndimage.gaussian_filter (``sigma`` px, truncate 4, mode "mirror"); ``"median"``: 3x3 median."""
    check_choice("denoiser", denoiser, DENOISERS)
    X = np.asarray(X, dtype=np.float64)
    if denoiser == "gaussian":
        denoised = gaussian_filter(X, sigma=(0.0, 0.0, sigma, sigma), mode="mirror", truncate=4.0)
    else:
        denoised = median_filter(X, size=(1, 1, 3, 3), mode="mirror")
    return X - denoised
