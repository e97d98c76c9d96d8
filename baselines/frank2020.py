"""Frank et al. 2020, "Leveraging Frequency Analysis for Deep Fake Image Recognition" (DCT + linear model).

Features: per-channel 2-D orthonormal DCT-II of each image, log(|D| + 1e-12), each coefficient standardised
with the training set's mean and standard deviation; classifier: L2-regularised multinomial logistic
regression. ``frank2020_pixels`` is the paper's control: the same classifier on raw pixels.
"""

from __future__ import annotations

import numpy as np

from fpbench.baselines._base import ImageClassifier, check_positive
from fpbench.baselines._linear import fit_standardised_logreg
from fpbench.baselines._registry import BASELINES


def dct_matrix(n: int) -> np.ndarray:
    """The n x n orthonormal DCT-II matrix M, so that ``M @ v`` is the DCT of a length-n vector v:
    M[k, j] = s_k cos(pi (2j + 1) k / (2n)), s_0 = sqrt(1/n), s_k = sqrt(2/n)."""
    k = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    m = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * j + 1) * k / (2 * n))
    m[0] /= np.sqrt(2.0)
    return m


def dct2(X: np.ndarray) -> np.ndarray:
    """Orthonormal 2-D DCT-II over the last two axes of ``X`` (e.g. Nx3xHxW), in float64."""
    rows, cols = dct_matrix(X.shape[-2]), dct_matrix(X.shape[-1])
    return rows @ np.asarray(X, dtype=np.float64) @ cols.T


def log_dct_features(X: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """log(|DCT-II(X)| + eps) per channel, flattened: Nx3xHxW -> N x (3*H*W)."""
    return np.log(np.abs(dct2(X)) + eps).reshape(len(X), -1)


@BASELINES.register("frank2020")
class Frank2020(ImageClassifier):
    """Log-DCT spectrum + standardisation + L2 logistic regression (Frank et al. 2020).

    Parameters
    ----------
    C : inverse L2 regularisation strength of the logistic regression.
    max_iter : lbfgs iterations.
    random_state : passed to the logistic regression (lbfgs itself is deterministic).

    Learned state: ``scaler_`` (per-coefficient StandardScaler), ``classifier_`` (LogisticRegression).
    """

    def __init__(self, *, C=1.0, max_iter=2000, random_state=None):
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    def _features(self, X: np.ndarray) -> np.ndarray:
        return log_dct_features(X)

    def _check_params(self) -> None:
        check_positive("C", self.C)
        check_positive("max_iter", self.max_iter, integer=True)

    def _fit(self, X, y_idx, n_classes):
        self.scaler_, self.classifier_ = fit_standardised_logreg(
            self._features(X), y_idx, self.C, self.max_iter, self.random_state)

    def _predict_proba(self, X):
        return self.classifier_.predict_proba(self.scaler_.transform(self._features(X)))


@BASELINES.register("frank2020_pixels")
class Frank2020Pixels(Frank2020):
    """Control for :class:`Frank2020`: the same standardisation + logistic regression on raw pixels."""

    def _features(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64).reshape(len(X), -1)
