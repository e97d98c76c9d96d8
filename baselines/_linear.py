"""Shared pieces of the feature-based baselines: per-feature standardisation + L2 logistic regression."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler


def fit_standardised_logreg(features: np.ndarray, y_idx: np.ndarray, C: float, max_iter: int,
                            random_state) -> tuple[StandardScaler, LogisticRegression]:
    """Standardise each feature on the training set, then fit an L2-regularised multinomial (softmax)
    logistic regression (lbfgs). Returns the fitted scaler and classifier."""
    scaler = StandardScaler().fit(features)
    classifier = LogisticRegression(C=C, max_iter=max_iter, random_state=random_state)
    classifier.fit(scaler.transform(features), y_idx)
    return scaler, classifier
