"""Marra et al. 2019, "Do GANs leave artificial fingerprints?": PRNU-style residual fingerprints.

residual = image - denoised(image), per colour channel. The denoiser is deliberately cheap and documented:
``"gaussian"`` (scipy.ndimage.gaussian_filter, sigma ``denoise_sigma``, truncate 4, mode "mirror") or
``"median"`` (3x3 median, scipy.ndimage.median_filter, mode "mirror"); the paper used a stronger (wavelet /
BM3D-like) denoiser. The fingerprint of a class is the mean residual of its training images; an image is
attributed to the class whose fingerprint has the highest normalised cross-correlation (Pearson
correlation over all 3*H*W values) with its residual. ``predict_proba`` = softmax(correlation /
``temperature``): a monotone score, not a calibrated probability.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax
from sklearn.utils.validation import check_is_fitted

from fpbench.baselines._base import ImageClassifier, check_positive
from fpbench.baselines._registry import BASELINES
from fpbench.registry import check_choice
from fpbench.residual import noise_residual


def normalised_cross_correlation(residuals: np.ndarray, fingerprints: np.ndarray) -> np.ndarray:
    """Pearson correlation of each residual (N x ...) with each fingerprint (K x ...): N x K.
    A constant residual or fingerprint correlates 0 with everything."""
    a = residuals.reshape(len(residuals), -1)
    b = fingerprints.reshape(len(fingerprints), -1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norm_a = np.linalg.norm(a, axis=1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=1, keepdims=True)
    a = a / np.where(norm_a > 0, norm_a, 1.0)
    b = b / np.where(norm_b > 0, norm_b, 1.0)
    return a @ b.T


@BASELINES.register("marra2019")
class Marra2019(ImageClassifier):
    """Mean-residual fingerprints + nearest fingerprint by normalised cross-correlation (Marra et al. 2019).

    Parameters
    ----------
    denoiser : "gaussian" or "median" (see the module docstring).
    denoise_sigma : Gaussian denoiser's sigma in pixels (ignored by "median").
    temperature : softmax temperature of ``predict_proba`` over the correlations (default 0.01: a
        correlation gap of 0.01 is a factor e in probability).
    random_state : unused (the method is deterministic); kept for a uniform interface.

    Learned state: ``fingerprints_`` (K x 3 x H x W mean residuals, rows ordered as ``classes_``).
    """

    def __init__(self, *, denoiser="gaussian", denoise_sigma=1.0, temperature=0.01, random_state=None):
        self.denoiser = denoiser
        self.denoise_sigma = denoise_sigma
        self.temperature = temperature
        self.random_state = random_state

    def _check_params(self) -> None:
        check_choice("denoiser", self.denoiser, ("gaussian", "median"))
        check_positive("denoise_sigma", self.denoise_sigma)
        check_positive("temperature", self.temperature)

    def _residual(self, X: np.ndarray) -> np.ndarray:
        return noise_residual(X, self.denoiser, self.denoise_sigma)

    def _fit(self, X, y_idx, n_classes):
        residuals = self._residual(X)
        self.fingerprints_ = np.stack([residuals[y_idx == k].mean(axis=0) for k in range(n_classes)])

    def correlations(self, X) -> np.ndarray:
        """Normalised cross-correlation of each image's residual with each class fingerprint: N x K."""
        check_is_fitted(self, "classes_")
        return normalised_cross_correlation(self._residual(self._check_predict_images(X)), self.fingerprints_)

    def _predict_proba(self, X):
        return softmax(normalised_cross_correlation(self._residual(X), self.fingerprints_) / self.temperature,
                       axis=1)
