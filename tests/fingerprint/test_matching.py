"""fpbench.fingerprint.matching against scipy's binomial tail and exact integer arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import binom

from fpbench.fingerprint.matching import (
    NO_MATCH,
    attribute,
    bit_accuracy,
    is_fingerprinted,
    log_binom_sf,
    min_correct_bits,
    p_value,
)


def exact_log_sf(k: int, n: int) -> float:
    """log P(X >= k), X ~ Bin(n, 1/2), from exact integer sums (math.log takes big ints)."""
    if k > n:
        return -math.inf
    return math.log(sum(math.comb(n, i) for i in range(max(k, 0), n + 1))) - n * math.log(2)


def scipy_min_correct(n: int, alpha: float) -> int:
    k = np.arange(n + 2)
    ok = binom.sf(k - 1, n, 0.5) < alpha
    return int(k[ok][0]) if ok.any() else n + 1


class TestPValue:
    @pytest.mark.parametrize("n", [1, 2, 7, 32, 48, 100, 257])
    def test_all_k_match_scipy_sf(self, n):
        k = np.arange(0, n + 2)
        got = p_value(torch.from_numpy(k), n).numpy()
        np.testing.assert_allclose(got, binom.sf(k - 1, n, 0.5), rtol=1e-9, atol=0)

    @pytest.mark.parametrize("n", [100, 500, 1000])
    def test_log_space_matches_scipy_logsf_at_tiny_values(self, n):
        k = np.arange(n // 2, n + 1)
        got = log_binom_sf(torch.from_numpy(k), n).numpy()
        want = binom.logsf(k - 1, n, 0.5)
        np.testing.assert_allclose(got, want, rtol=1e-9)
        assert got[-1] == pytest.approx(-n * math.log(2), rel=1e-12)  # P(all n bits agree) = 2^-n

    @pytest.mark.parametrize(("k", "n"), [(0, 10), (5, 10), (59, 100), (74, 100), (100, 100), (1500, 2000),
                                          (2000, 2000)])
    def test_log_space_matches_exact_integers(self, k, n):
        """Values far below float64's range (2^-2000) are still exact in log space."""
        assert log_binom_sf(k, n).item() == pytest.approx(exact_log_sf(k, n), rel=1e-10, abs=1e-12)

    def test_out_of_range_k(self):
        assert log_binom_sf(-3, 10).item() == 0.0
        assert log_binom_sf(11, 10).item() == -math.inf
        assert p_value(11, 10).item() == 0.0

    @pytest.mark.parametrize("n", [1, 10, 100, 1000])
    def test_probabilities_in_unit_interval_and_non_increasing(self, n):
        lp = log_binom_sf(torch.arange(-1, n + 2), n)
        assert (lp <= 0).all() and lp[-1] == -math.inf
        assert (lp.diff() <= 0).all()
        assert p_value(0, n).item() == pytest.approx(1.0, abs=1e-12)


class TestMinCorrectBits:
    @pytest.mark.parametrize("n", [8, 32, 48, 100, 256])
    @pytest.mark.parametrize("alpha", [0.05, 1e-3, 1e-6, 1e-12])
    def test_defining_property(self, n, alpha):
        k = min_correct_bits(n, alpha)
        assert k == scipy_min_correct(n, alpha)
        if k <= n:
            assert binom.sf(k - 1, n, 0.5) < alpha  # k correct bits pass
        if k - 1 >= 0:
            assert binom.sf(k - 2, n, 0.5) >= alpha  # one fewer does not

    @pytest.mark.parametrize(("alpha", "paper"), [(0.05, 59), (1e-6, 74)])
    def test_paper_thresholds_for_100_bits(self, alpha, paper):
        """The paper's thresholds, rederived with scipy, then compared to fpbench."""
        assert scipy_min_correct(100, alpha) == paper
        assert min_correct_bits(100, alpha) == paper

    def test_unreachable_alpha(self):
        assert min_correct_bits(4, 1e-3) == 5  # even 4/4 has p = 1/16


class TestBitAccuracy:
    def test_against_numpy(self):
        g = torch.Generator().manual_seed(0)
        bits = torch.randint(0, 2, (20, 48), generator=g).float()
        fp = torch.randint(0, 2, (48,), generator=g).float()
        want = (bits.numpy() == fp.numpy()[None]).mean(1)
        np.testing.assert_allclose(bit_accuracy(bits, fp).numpy(), want, rtol=1e-6)
        per_row = torch.randint(0, 2, (20, 48), generator=g).float()
        np.testing.assert_allclose(bit_accuracy(bits, per_row).numpy(), (bits == per_row).float().mean(1).numpy())

    def test_shape_errors(self):
        with pytest.raises(ValueError, match="N x n_bits"):
            bit_accuracy(torch.zeros(8), torch.zeros(8))
        with pytest.raises(ValueError, match="32 bits but the decoded bits have 48"):
            bit_accuracy(torch.zeros(2, 48), torch.zeros(32))

    def test_is_fingerprinted_uses_the_binomial_threshold(self):
        n, alpha = 100, 1e-6
        k = scipy_min_correct(n, alpha)
        fp = torch.ones(n)
        bits = torch.zeros(2, n)
        bits[0, :k] = 1  # exactly k correct: passes
        bits[1, :k - 1] = 1  # one fewer: fails
        assert is_fingerprinted(bits, fp, alpha).tolist() == [True, False]


class TestAttribute:
    n_bits, n_models = 100, 64

    @pytest.fixture
    def fingerprints(self):
        return torch.randint(0, 2, (self.n_models, self.n_bits), generator=torch.Generator().manual_seed(1)).float()

    def _noisy(self, fingerprints, owners, flips, seed=2):
        g = torch.Generator().manual_seed(seed)
        bits = fingerprints[owners].clone()
        for i in range(len(owners)):
            idx = torch.randperm(self.n_bits, generator=g)[:flips]
            bits[i, idx] = 1 - bits[i, idx]
        return bits

    def test_picks_the_right_fingerprint_among_many(self, fingerprints):
        owners = torch.tensor([0, 5, 17, 63, 17, 40])
        bits = self._noisy(fingerprints, owners, flips=10)
        result = attribute(bits, fingerprints)
        assert result.best.tolist() == owners.tolist()
        assert result.decision.tolist() == owners.tolist()
        assert result.n_correct.tolist() == [90] * len(owners)
        np.testing.assert_allclose(result.log_p.numpy(), binom.logsf(89, self.n_bits, 0.5), rtol=1e-9)

    def test_random_bits_are_no_match(self, fingerprints):
        bits = torch.randint(0, 2, (200, self.n_bits), generator=torch.Generator().manual_seed(3)).float()
        result = attribute(bits, fingerprints)
        assert (result.decision == NO_MATCH).all()
        # the best match is still reported, with a chance-level agreement
        assert ((result.best >= 0) & (result.best < self.n_models)).all()
        assert result.n_correct.max() < min_correct_bits(self.n_bits, 1e-6 / self.n_models)

    def test_bonferroni_over_registered_fingerprints(self, fingerprints):
        """k correct bits with alpha/M <= p < alpha: a match against one fingerprint, no match among M."""
        alpha, m = 1e-3, self.n_models
        k = next(k for k in range(self.n_bits + 1) if alpha / m <= binom.sf(k - 1, self.n_bits, 0.5) < alpha)
        bits = self._noisy(fingerprints, torch.tensor([7]), flips=self.n_bits - k)
        assert attribute(bits, fingerprints[7], alpha).decision.tolist() == [0]
        many = attribute(bits, fingerprints, alpha)
        assert many.best.tolist() == [7] and many.decision.tolist() == [NO_MATCH]

    def test_single_fingerprint_vector(self, fingerprints):
        result = attribute(fingerprints[:3], fingerprints[2])
        assert result.decision.tolist() == [NO_MATCH, NO_MATCH, 0]

    def test_length_mismatch(self, fingerprints):
        with pytest.raises(ValueError, match="fingerprint lengths differ"):
            attribute(torch.zeros(2, 48), fingerprints)
