"""The estimator base every baseline shares: input checks, label encoding, predict from predict_proba.

Subclasses implement ``_fit(X, y_idx)`` and ``_predict_proba(X)`` on validated float32 images Nx3xHxW in
[0, 1] and integer class indices 0..K-1; this class maps them to and from the user's labels (``classes_``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from fpbench.baselines._validation import check_images, check_labels


class ImageClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn style image classifier (ClassifierMixin first, as scikit-learn requires).

    Learned state common to all baselines: ``classes_`` (sorted labels; columns of ``predict_proba``) and
    ``image_shape_`` (3, H, W) seen in ``fit``; predicting on another size is an error.
    """

    def fit(self, X, y):
        """Fit on images ``X`` (Nx3xHxW, float in [0,1] or uint8) and labels ``y`` (ints or strings)."""
        X = check_images(X)
        y = check_labels(y, len(X))
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes in y, got {len(classes)}: {classes}")
        if not self.__sklearn_tags__().classifier_tags.multi_class and len(classes) > 2:
            raise ValueError(f"{type(self).__name__} is a binary detector: y must have exactly 2 classes, "
                             f"got {len(classes)}")
        self._check_params()
        self._fit(X, y_idx.astype(np.int64), len(classes))
        # Set last, so a failed fit leaves the estimator unfitted.
        self.classes_ = classes
        self.image_shape_ = tuple(X.shape[1:])
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, N x K, rows sum to 1, columns ordered as ``classes_``."""
        check_is_fitted(self, "classes_")
        X = self._check_predict_images(X)
        proba = np.asarray(self._predict_proba(X), dtype=np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Predicted labels (elements of ``classes_``), the argmax of :meth:`predict_proba`."""
        proba = self.predict_proba(X)  # first: raises NotFittedError before classes_ is touched
        return self.classes_[np.argmax(proba, axis=1)]

    def _check_predict_images(self, X) -> np.ndarray:
        X = check_images(X)
        if tuple(X.shape[1:]) != self.image_shape_:
            raise ValueError(f"{type(self).__name__} was fitted on images of shape {self.image_shape_} "
                             f"(3xHxW) but got {tuple(X.shape[1:])}; resize or crop them first")
        return X

    # -- to implement -------------------------------------------------------------------------------
    def _check_params(self) -> None:
        """Validate hyperparameters (called at the start of fit; never in __init__)."""

    def _fit(self, X: np.ndarray, y_idx: np.ndarray, n_classes: int) -> None:
        raise NotImplementedError

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def check_positive(name: str, value, *, integer: bool = False, allow_none: bool = False) -> None:
    """Fail with a clear message when a numeric hyperparameter is not > 0."""
    if value is None and allow_none:
        return
    ok_type = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    if isinstance(value, bool) or not ok_type or not value > 0:
        kind = "a positive integer" if integer else "a positive number"
        raise ValueError(f"{name} must be {kind}{' or None' if allow_none else ''}, got {value!r}")
