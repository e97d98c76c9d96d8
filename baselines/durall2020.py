"""Durall et al. 2020, "Watch your Up-Convolution": the azimuthally averaged power spectrum + a classifier.

Features: grayscale (ITU-R BT.601 luma), 2-D FFT shifted so the DC term sits at (H//2, W//2),
20*ln(|F| + eps), averaged over rings of integer radius floor(distance to the DC term) -> a 1-D profile of
one value per ring, then min-max normalised per image (as in the authors' code). Classifier:
``"logreg"`` (standardised L2 logistic regression) or ``"svm"`` (SVC, RBF, C=6.37, gamma=0.86, the paper's
setting).

SVM probabilities: scikit-learn 1.9 deprecates ``SVC(probability=True)`` (Platt scaling by internal
cross-validation), so ``predict_proba`` uses the SVC's decision function instead: sigmoid(decision) for
2 classes, softmax over the one-vs-rest decision values for more. These are monotone confidence scores,
not calibrated probabilities; their argmax equals ``SVC.predict``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, softmax
from sklearn.svm import SVC

from fpbench.baselines._base import ImageClassifier, check_positive
from fpbench.baselines._linear import fit_standardised_logreg
from fpbench.baselines._registry import BASELINES
from fpbench.registry import check_choice

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def radius_index(height: int, width: int) -> np.ndarray:
    """Integer ring index floor(sqrt(dy^2 + dx^2)) of each pixel of an fftshift-ed HxW spectrum."""
    dy = np.arange(height)[:, None] - height // 2
    dx = np.arange(width)[None, :] - width // 2
    return np.floor(np.sqrt(dy**2 + dx**2)).astype(np.int64)


def spectrum_profile(X: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Azimuthal average of 20*ln(|FFT(gray)| + eps) over the rings of :func:`radius_index` (in increasing
    radius; only rings that contain a pixel): Nx3xHxW in [0,1] -> N x n_rings, not normalised."""
    gray = np.tensordot(LUMA_WEIGHTS, np.asarray(X, dtype=np.float64), axes=([0], [1]))  # N x H x W
    spectrum = np.fft.fftshift(np.fft.fft2(gray), axes=(-2, -1))
    magnitude = 20 * np.log(np.abs(spectrum) + eps)
    _, ring = np.unique(radius_index(*gray.shape[1:]).ravel(), return_inverse=True)  # rings present
    n_rings = ring.max() + 1
    flat = (np.arange(len(X))[:, None] * n_rings + ring[None, :]).ravel()
    sums = np.bincount(flat, weights=magnitude.reshape(-1), minlength=len(X) * n_rings)
    return sums.reshape(len(X), n_rings) / np.bincount(ring)


def minmax_normalise(profiles: np.ndarray) -> np.ndarray:
    """Scale each row to [0, 1] (a constant row becomes zeros)."""
    lo = profiles.min(axis=1, keepdims=True)
    span = profiles.max(axis=1, keepdims=True) - lo
    return (profiles - lo) / np.where(span > 0, span, 1.0)


@BASELINES.register("durall2020")
class Durall2020(ImageClassifier):
    """1-D spectrum profile + logistic regression or RBF SVM (Durall et al. 2020).

    Parameters
    ----------
    classifier : "logreg" or "svm".
    logreg_C, max_iter : logistic regression settings.
    svm_C, svm_gamma : RBF SVC settings (paper: 6.37, 0.86).
    random_state : passed to the classifier.

    Learned state: ``classifier_`` and, for "logreg", ``scaler_``.
    """

    def __init__(self, *, classifier="logreg", logreg_C=1.0, max_iter=2000, svm_C=6.37, svm_gamma=0.86,
                 random_state=None):
        self.classifier = classifier
        self.logreg_C = logreg_C
        self.max_iter = max_iter
        self.svm_C = svm_C
        self.svm_gamma = svm_gamma
        self.random_state = random_state

    def _check_params(self) -> None:
        check_choice("classifier", self.classifier, ("logreg", "svm"))
        check_positive("logreg_C", self.logreg_C)
        check_positive("max_iter", self.max_iter, integer=True)
        check_positive("svm_C", self.svm_C)
        check_positive("svm_gamma", self.svm_gamma)

    @staticmethod
    def _features(X: np.ndarray) -> np.ndarray:
        return minmax_normalise(spectrum_profile(X))

    def _fit(self, X, y_idx, n_classes):
        features = self._features(X)
        if self.classifier == "svm":
            self.scaler_ = None
            self.classifier_ = SVC(kernel="rbf", C=self.svm_C, gamma=self.svm_gamma,
                                   decision_function_shape="ovr", random_state=self.random_state)
            self.classifier_.fit(features, y_idx)
        else:
            self.scaler_, self.classifier_ = fit_standardised_logreg(
                features, y_idx, self.logreg_C, self.max_iter, self.random_state)

    def _predict_proba(self, X):
        features = self._features(X)
        if self.scaler_ is not None:
            return self.classifier_.predict_proba(self.scaler_.transform(features))
        decision = self.classifier_.decision_function(features)
        if decision.ndim == 1:
            p1 = expit(decision)
            return np.stack([1 - p1, p1], axis=1)
        return softmax(decision, axis=1)
