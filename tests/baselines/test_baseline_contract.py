"""The estimator contract, run over every registered baseline (scikit-learn conventions, STYLE point 6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from fpbench.baselines import BASELINES

EXPECTED_IDS = {"yu2019", "wang2020", "frank2020", "frank2020_pixels", "durall2020", "marra2019"}


def _binary_only(estimator) -> bool:
    return not estimator.__sklearn_tags__().classifier_tags.multi_class


class TestRegistry:
    def test_inventory(self, fast_params):
        """Fails when an id disappears, is renamed, or is added without fast test parameters."""
        assert set(BASELINES.ids()) == EXPECTED_IDS
        assert {case.split("-")[0] for case in fast_params} == EXPECTED_IDS

    @pytest.mark.parametrize("baseline", sorted(EXPECTED_IDS))
    def test_entries_are_sklearn_classifiers(self, baseline):
        cls = BASELINES.get(baseline)
        assert issubclass(cls, BaseEstimator) and issubclass(cls, ClassifierMixin)
        assert is_classifier(cls())

    def test_unknown_id_suggests(self):
        with pytest.raises(KeyError, match="Did you mean 'yu2019'"):
            BASELINES.get("yu2091")


class TestEstimatorContract:
    def test_init_stores_params_untouched(self, make_baseline, fast_params, baseline_case):
        params = {**fast_params[baseline_case], "random_state": 0}
        estimator = make_baseline()
        got = estimator.get_params()
        for name, value in params.items():
            assert got[name] is value
        # __init__ sets exactly the hyperparameters: no learned state, no derived attributes
        assert set(vars(estimator)) == set(got)
        assert not [name for name in vars(estimator) if name.endswith("_")]

    def test_set_params_round_trip(self, make_baseline):
        estimator = make_baseline()
        params = estimator.get_params()
        estimator.set_params(random_state=123)
        assert estimator.get_params()["random_state"] == 123
        estimator.set_params(**params)
        assert estimator.get_params() == params

    def test_not_fitted(self, make_baseline, tiny_data):
        estimator = make_baseline()
        for method in (estimator.predict, estimator.predict_proba):
            with pytest.raises(NotFittedError):
                method(tiny_data[0])

    def test_fit_predict_shapes(self, make_baseline, tiny_data):
        X, y = tiny_data
        estimator = make_baseline()
        assert estimator.fit(X, y) is estimator
        proba = estimator.predict_proba(X[:5])
        assert proba.shape == (5, 2)
        assert np.all(proba >= 0)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
        predicted = estimator.predict(X[:5])
        assert predicted.shape == (5,)
        np.testing.assert_array_equal(estimator.classes_, [0, 1])
        np.testing.assert_array_equal(predicted, estimator.classes_[proba.argmax(axis=1)])
        assert estimator.image_shape_ == (3, 8, 8)

    def test_fit_leaves_input_unchanged(self, make_baseline, tiny_data):
        X, y = tiny_data
        X_copy = X.copy()
        make_baseline().fit(X, y)
        np.testing.assert_array_equal(X, X_copy)

    def test_deterministic_given_random_state(self, make_baseline, tiny_data):
        X, y = tiny_data
        first = make_baseline().fit(X, y).predict_proba(X)
        second = make_baseline().fit(X, y).predict_proba(X)
        np.testing.assert_allclose(first, second, rtol=1e-6, atol=1e-9)

    def test_clone_is_unfitted_with_same_params(self, make_baseline, tiny_data):
        estimator = make_baseline().fit(*tiny_data)
        copy = clone(estimator)
        assert copy.get_params() == estimator.get_params()
        with pytest.raises(NotFittedError):
            check_is_fitted(copy, "classes_")
        copy.fit(*tiny_data)
        np.testing.assert_allclose(copy.predict_proba(tiny_data[0]), estimator.predict_proba(tiny_data[0]),
                                   rtol=1e-6, atol=1e-9)

    def test_string_labels(self, make_baseline, tiny_data):
        X, y = tiny_data
        names = np.array(["real", "fake"])[y]
        estimator = make_baseline().fit(X, names)
        np.testing.assert_array_equal(estimator.classes_, ["fake", "real"])
        assert set(estimator.predict(X)) <= {"fake", "real"}
        # same model as with integer labels: "fake" (1) sorts first, so the columns swap
        integer = make_baseline().fit(X, 1 - y)
        np.testing.assert_allclose(estimator.predict_proba(X), integer.predict_proba(X), rtol=1e-6, atol=1e-9)

    def test_boolean_labels(self, make_baseline, tiny_data):
        X, y = tiny_data
        estimator = make_baseline().fit(X, y.astype(bool))
        np.testing.assert_array_equal(estimator.classes_, [False, True])
        assert estimator.predict(X).dtype == bool

    def test_torch_and_uint8_inputs(self, make_baseline, tiny_data):
        X, y = tiny_data
        X8 = np.round(X * 255).astype(np.uint8)
        Xq = X8.astype(np.float32) / 255
        reference = make_baseline().fit(Xq, y).predict_proba(Xq)
        from_uint8 = make_baseline().fit(X8, y).predict_proba(X8)
        from_torch = make_baseline().fit(torch.from_numpy(Xq), torch.from_numpy(y)).predict_proba(
            torch.from_numpy(Xq))
        np.testing.assert_allclose(from_uint8, reference, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(from_torch, reference, rtol=1e-6, atol=1e-9)

    def test_three_classes(self, make_baseline, patterns):
        X, y = patterns(6, n_classes=3, size=8)
        estimator = make_baseline()
        if _binary_only(estimator):
            with pytest.raises(ValueError, match="exactly 2 classes"):
                estimator.fit(X, y)
            return
        proba = estimator.fit(X, y).predict_proba(X)
        assert proba.shape == (len(X), 3)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)


def _bad_images(X: np.ndarray) -> dict[str, tuple[object, str]]:
    nan = X.copy()
    nan[0, 0, 0, 0] = np.nan
    return {
        "3-d": (X[:, 0], "4 dimensions"),
        "channels-last": (X.transpose(0, 2, 3, 1), "3 channels"),
        "one channel": (X[:, :1], "3 channels"),
        "above 1": (X * 2 + 0.1, r"\[0, 1\]"),
        "negative": (X - 0.5, r"\[0, 1\]"),
        "nan": (nan, "NaN"),
        "int64": (np.round(X * 255).astype(np.int64), "dtype"),
        "empty": (X[:0], "empty"),
    }


class TestInputValidation:
    @pytest.mark.parametrize("case", list(_bad_images(np.zeros((2, 3, 4, 4), np.float32))))
    def test_bad_images_rejected_in_fit_and_predict(self, make_baseline, tiny_data, case):
        X, y = tiny_data
        bad, message = _bad_images(X)[case]
        with pytest.raises(ValueError, match=message):
            make_baseline().fit(bad, y[: len(bad)])
        fitted = make_baseline().fit(X, y)
        with pytest.raises(ValueError, match=message):
            fitted.predict(bad)

    def test_other_image_size_rejected(self, make_baseline, tiny_data, patterns):
        fitted = make_baseline().fit(*tiny_data)
        other, _ = patterns(2, size=16)
        with pytest.raises(ValueError, match="fitted on images of shape"):
            fitted.predict_proba(other)

    def test_not_an_array(self, make_baseline, tiny_data):
        with pytest.raises(TypeError, match="numpy array or torch tensor"):
            make_baseline().fit(tiny_data[0].tolist(), tiny_data[1])

    def test_single_class_rejected(self, make_baseline, tiny_data):
        X, _ = tiny_data
        with pytest.raises(ValueError, match="at least 2 classes"):
            make_baseline().fit(X, np.zeros(len(X), dtype=int))

    @pytest.mark.parametrize("labels", ["short", "2-d", "fractional"])
    def test_bad_labels_rejected(self, make_baseline, tiny_data, labels):
        X, y = tiny_data
        bad = {"short": y[:-1], "2-d": y[:, None], "fractional": y + 0.5}[labels]
        with pytest.raises(ValueError, match="y"):
            make_baseline().fit(X, bad)

    def test_bad_hyperparameter_rejected_at_fit(self, make_baseline, tiny_data):
        name = "epochs" if "epochs" in make_baseline().get_params() else next(
            p for p in ("C", "logreg_C", "temperature") if p in make_baseline().get_params())
        estimator = make_baseline(**{name: -1})  # constructing never fails: no logic in __init__
        with pytest.raises(ValueError, match=name):
            estimator.fit(*tiny_data)
