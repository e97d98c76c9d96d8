"""Feature extractors against independent references (scipy, direct numpy loops)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft

from fpbench.baselines.durall2020 import minmax_normalise, radius_index, spectrum_profile
from fpbench.baselines.frank2020 import dct2, dct_matrix, log_dct_features
from fpbench.baselines.marra2019 import Marra2019, normalised_cross_correlation
from fpbench.residual import noise_residual

SHAPES = [(2, 3, 8, 8), (3, 3, 5, 7), (1, 3, 16, 12)]


def _images(shape, seed=0):
    return np.random.default_rng(seed).random(shape)


class TestDct:
    @pytest.mark.parametrize("shape", SHAPES)
    def test_matches_scipy_orthonormal_dct2(self, shape):
        X = _images(shape)
        expected = scipy.fft.dctn(X, type=2, axes=(-2, -1), norm="ortho")
        np.testing.assert_allclose(dct2(X), expected, rtol=1e-10, atol=1e-12)

    @pytest.mark.parametrize("n", [1, 4, 7, 32])
    def test_matrix_is_orthonormal(self, n):
        m = dct_matrix(n)
        np.testing.assert_allclose(m @ m.T, np.eye(n), atol=1e-12)

    @pytest.mark.parametrize("shape", SHAPES)
    def test_log_features(self, shape):
        X = _images(shape, seed=1)
        expected = np.log(np.abs(scipy.fft.dctn(X, type=2, axes=(-2, -1), norm="ortho")) + 1e-12)
        np.testing.assert_allclose(log_dct_features(X), expected.reshape(len(X), -1), rtol=1e-9, atol=1e-9)


def _profile_reference(X: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Direct computation: luma, np.fft, an explicit loop over pixels for the radius, a loop over radii."""
    gray = 0.299 * X[:, 0] + 0.587 * X[:, 1] + 0.114 * X[:, 2]
    height, width = gray.shape[1:]
    radius = np.zeros((height, width), dtype=int)
    for i in range(height):
        for j in range(width):
            radius[i, j] = int(math.hypot(i - height // 2, j - width // 2))
    rows = []
    for image in gray:
        magnitude = 20 * np.log(np.abs(np.fft.fftshift(np.fft.fft2(image))) + eps)
        rows.append([magnitude[radius == r].mean() for r in sorted(set(radius.ravel()))])
    return np.array(rows)


class TestSpectrumProfile:
    @pytest.mark.parametrize("shape", SHAPES)
    def test_matches_direct_numpy(self, shape):
        X = _images(shape, seed=2)
        np.testing.assert_allclose(spectrum_profile(X), _profile_reference(X), rtol=1e-9, atol=1e-9)

    def test_dc_ring_is_the_mean(self):
        X = _images((2, 3, 8, 8), seed=3)
        gray = np.tensordot([0.299, 0.587, 0.114], X, axes=([0], [1]))
        dc = 20 * np.log(np.abs(gray.sum(axis=(1, 2))) + 1e-8)
        np.testing.assert_allclose(spectrum_profile(X)[:, 0], dc, rtol=1e-12)

    def test_radius_index_centre_and_length(self):
        r = radius_index(8, 8)
        assert r[4, 4] == 0 and r[0, 0] == int(math.hypot(4, 4))
        assert spectrum_profile(_images((1, 3, 32, 32))).shape == (1, len(np.unique(radius_index(32, 32))))

    def test_minmax(self):
        p = minmax_normalise(np.array([[1.0, 3.0, 2.0], [5.0, 5.0, 5.0]]))
        np.testing.assert_allclose(p, [[0.0, 1.0, 0.5], [0.0, 0.0, 0.0]])


def _mirror_pad(image: np.ndarray, r: int) -> np.ndarray:
    return np.pad(image, r, mode="reflect")  # numpy "reflect" == scipy "mirror" (edge not repeated)


def _gaussian_reference(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian with scipy's kernel radius rule int(4 sigma + 0.5), explicit loops."""
    r = int(4.0 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = _mirror_pad(image, r)
    height, width = image.shape
    rows = np.array([[np.dot(taps, padded[i:i + 2 * r + 1, j + r]) for j in range(width)] for i in range(height)])
    padded = _mirror_pad(rows, r)
    return np.array([[np.dot(taps, padded[i + r, j:j + 2 * r + 1]) for j in range(width)] for i in range(height)])


def _median_reference(image: np.ndarray) -> np.ndarray:
    padded = _mirror_pad(image, 1)
    height, width = image.shape
    return np.array([[np.median(padded[i:i + 3, j:j + 3]) for j in range(width)] for i in range(height)])


class TestMarraResidual:
    @pytest.mark.parametrize("sigma", [0.5, 1.0, 1.7])
    def test_gaussian_residual(self, sigma):
        X = _images((2, 3, 9, 11), seed=4)
        expected = np.stack([[x - _gaussian_reference(x, sigma) for x in image] for image in X])
        np.testing.assert_allclose(noise_residual(X, "gaussian", sigma), expected, rtol=1e-9, atol=1e-12)

    def test_median_residual(self):
        X = _images((2, 3, 7, 6), seed=5)
        expected = np.stack([[x - _median_reference(x) for x in image] for image in X])
        np.testing.assert_allclose(noise_residual(X, "median"), expected, atol=1e-12)

    def test_unknown_denoiser(self):
        with pytest.raises(ValueError, match="Did you mean 'median'"):
            noise_residual(_images((1, 3, 4, 4)), "medain")


class TestMarraCorrelation:
    def test_matches_corrcoef(self):
        rng = np.random.default_rng(6)
        residuals, fingerprints = rng.normal(size=(4, 3, 5, 5)), rng.normal(size=(3, 3, 5, 5))
        expected = np.array([[np.corrcoef(r.ravel(), f.ravel())[0, 1] for f in fingerprints] for r in residuals])
        np.testing.assert_allclose(normalised_cross_correlation(residuals, fingerprints), expected, rtol=1e-10)

    def test_constant_input_correlates_zero(self):
        out = normalised_cross_correlation(np.ones((1, 3, 4, 4)), np.random.default_rng(0).normal(size=(2, 3, 4, 4)))
        np.testing.assert_array_equal(out, 0.0)

    def test_fit_and_predict_follow_the_definition(self, patterns):
        X, y = patterns(10, n_classes=3, size=8, seed=7)
        model = Marra2019(denoise_sigma=1.0, temperature=0.05).fit(X, y)
        residuals = np.stack([[x - _gaussian_reference(x, 1.0) for x in image] for image in X.astype(np.float64)])
        fingerprints = np.stack([residuals[y == k].mean(axis=0) for k in range(3)])
        np.testing.assert_allclose(model.fingerprints_, fingerprints, rtol=1e-6, atol=1e-9)
        corr = np.array([[np.corrcoef(r.ravel(), f.ravel())[0, 1] for f in fingerprints] for r in residuals])
        np.testing.assert_allclose(model.correlations(X), corr, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(model.predict(X), corr.argmax(axis=1))
        logits = corr / 0.05
        softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
        np.testing.assert_allclose(model.predict_proba(X), softmax / softmax.sum(axis=1, keepdims=True),
                                   rtol=1e-6)
