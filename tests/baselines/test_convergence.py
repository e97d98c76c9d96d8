"""Training to convergence (issue 22): a validation split of the training images, early stopping on its
loss with the best epoch's weights kept, a cosine schedule, and ``learned_`` that tells a baseline which
learned from one at chance, on planted patterns whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fpbench.baselines.wang2020 import Wang2020
from fpbench.baselines.yu2019 import Yu2019

SMALL = {"yu2019": dict(max_width=32), "wang2020": dict(widths=(16, 32))}


def _make(name: str, **params):
    cls = {"yu2019": Yu2019, "wang2020": Wang2020}[name]
    return cls(random_state=0, num_threads=1, **SMALL[name], **params)


@pytest.mark.parametrize("name", ["yu2019", "wang2020"])
def test_a_learnable_task_is_learned_and_stops_early(name, patterns):
    X, y = patterns(100, size=16, seed=10)
    clf = _make(name, epochs=60, patience=2).fit(X, y)
    epochs = len(clf.loss_curve_)
    assert clf.learned_ and clf.val_chance_ == 0.5
    assert len(clf.val_loss_curve_) == len(clf.val_accuracy_curve_) == epochs
    assert epochs < 60, "a solved task ran the whole budget"
    # stopped exactly `patience` epochs after the last improvement of the validation loss (by 1e-4 or more),
    # whose weights were kept
    assert epochs == clf.best_epoch_ + clf.patience
    assert clf.val_loss_curve_[clf.best_epoch_ - 1] <= min(clf.val_loss_curve_) + 1e-4
    X_test, y_test = patterns(100, size=16, seed=11)
    assert float(np.mean(clf.predict(X_test) == y_test)) >= 0.9


@pytest.mark.parametrize("name", ["yu2019", "wang2020"])
def test_without_signal_it_is_not_learned(name, patterns):
    X, y = patterns(100, size=16, amplitude=0.0, seed=12)
    clf = _make(name, epochs=4).fit(X, y)
    assert clf.learned_ is False


def test_the_best_epochs_weights_are_kept(patterns):
    """With patience larger than the budget no early stop happens, yet the module is the best epoch's: its
    validation loss, recomputed on the same split, is the curve's minimum."""
    X, y = patterns(60, size=16, seed=3)
    clf = _make("yu2019", epochs=8, patience=50).fit(X, y)
    train, val = clf._split(y, int(np.random.RandomState(0).randint(np.iinfo(np.int32).max)))
    loss, _ = clf._validate(clf.module_, X[val], torch.from_numpy(y[val]))
    assert loss == pytest.approx(min(clf.val_loss_curve_), rel=1e-5)
    assert len(set(train) & set(val)) == 0 and len(train) + len(val) == len(y)


def test_the_validation_split_is_stratified(patterns):
    X, y = patterns(50, n_classes=3, size=16, seed=4)
    train, val = _make("yu2019", validation_fraction=0.2)._split(y, 0)
    assert np.bincount(y[val]).tolist() == [10, 10, 10]


def test_without_validation_the_budget_runs_out(patterns):
    X, y = patterns(20, size=16, seed=5)
    clf = _make("yu2019", epochs=3, validation_fraction=0.0).fit(X, y)
    assert len(clf.loss_curve_) == 3 and clf.val_loss_curve_ == [] and clf.learned_ is None


@pytest.mark.parametrize(("params", "message"), [
    ({"validation_fraction": 0.6}, "validation_fraction"),
    ({"patience": 0}, "patience"),
    ({"schedule": "step"}, "schedule"),
])
def test_bad_training_settings_are_refused(params, message, patterns):
    X, y = patterns(10, size=16, seed=6)
    with pytest.raises(ValueError, match=message):
        _make("yu2019", **params).fit(X, y)


def test_a_class_too_small_to_validate_is_refused(patterns):
    X, y = patterns(10, size=16, seed=7)
    y = y.copy()
    y[np.flatnonzero(y == 1)[1:]] = 0  # class 1 keeps one image
    with pytest.raises(ValueError, match="at least 2 images of every class"):
        _make("yu2019").fit(X, y)


def test_too_small_a_validation_set_cannot_tell(patterns):
    X, y = patterns(10, size=16, seed=8)  # 2 validation images: no accuracy clears chance by 3 errors
    assert _make("yu2019", epochs=2).fit(X, y).learned_ is None
