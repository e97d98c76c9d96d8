"""fpbench.fingerprint.fingerprint_registry against the dense matching.attribute, scipy and Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from scipy.stats import binom

from fpbench.fingerprint import fingerprint_registry as fr
from fpbench.fingerprint.fingerprint_registry import FingerprintRegistry, analytic_false_attribution
from fpbench.fingerprint.matching import NO_MATCH, Attribution, attribute, log_binom_sf

# (N queries, M registered, n_bits, alpha): n_bits not a multiple of 8, > 255 bits (int32 distances),
# and small n_bits with many exact ties
CASES = [(40, 7, 48, 1e-6), (60, 300, 100, 1e-6), (50, 64, 13, 0.5), (30, 1000, 8, 0.9), (20, 5, 300, 1e-6)]


def make_data(n: int, m: int, n_bits: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """M x n_bits random fingerprints; N x n_bits queries: half carry a registered fingerprint with a few
    flipped bits, half are uniform random (clean images)."""
    g = torch.Generator().manual_seed(seed)
    fps = torch.randint(0, 2, (m, n_bits), generator=g)
    half = n // 2
    carried = fps[torch.randint(0, m, (half,), generator=g)].clone()
    flips = torch.rand(half, n_bits, generator=g) < 0.05
    carried[flips] = 1 - carried[flips]
    clean = torch.randint(0, 2, (n - half, n_bits), generator=g)
    return torch.cat([carried, clean]), fps


def registry(fps: torch.Tensor, backend: str = "torch", **kw) -> FingerprintRegistry:
    reg = FingerprintRegistry(fps.shape[1], backend=backend, **kw)
    reg.add([f"fp{i}" for i in range(len(fps))], fps)
    return reg


def ref_distances(bits: torch.Tensor, fps: torch.Tensor) -> np.ndarray:
    """N x M Hamming distances in bits from scipy (share of differing bits * n_bits)."""
    return np.rint(cdist(bits.numpy(), fps.numpy(), "hamming") * bits.shape[1]).astype(np.int64)


def assert_same_decision(got: Attribution, want: Attribution) -> None:
    """Equal n_correct, log_p and matched-or-not (``best`` is checked separately: ties)."""
    assert torch.equal(got.n_correct, want.n_correct)
    torch.testing.assert_close(got.log_p, want.log_p, rtol=0, atol=0)
    assert torch.equal(got.decision == NO_MATCH, want.decision == NO_MATCH)


class TestTorchBackend:
    @pytest.mark.parametrize(("n", "m", "n_bits", "alpha"), CASES)
    def test_agrees_with_dense_attribute(self, n, m, n_bits, alpha):
        bits, fps = make_data(n, m, n_bits)
        got = registry(fps).attribute(bits, alpha)
        want = attribute(bits, fps, alpha)
        assert_same_decision(got, want)
        # best: equal to the dense one where the maximum is unique; the lowest minimiser everywhere
        dist = ref_distances(bits, fps)
        unique = torch.from_numpy((dist == dist.min(1, keepdims=True)).sum(1) == 1)
        assert torch.equal(got.best[unique], want.best[unique])
        assert torch.equal(got.best, torch.from_numpy(dist.argmin(1)))  # numpy: first (lowest) index
        assert torch.equal(got.decision, torch.where(got.decision == NO_MATCH, NO_MATCH, got.best))
        if n_bits >= 48:  # clean images match nothing; at 100+ bits every carried fingerprint is found
            assert (got.decision[n // 2:] == NO_MATCH).all()
        if n_bits >= 100:
            assert (got.decision[: n // 2] != NO_MATCH).all()

    def test_ties_go_to_the_lowest_index(self):
        g = torch.Generator().manual_seed(1)
        base = torch.randint(0, 2, (5, 20), generator=g)
        fps = torch.cat([base, base, base])  # every fingerprint registered 3 times: 0..4, 5..9, 10..14
        bits = base[torch.tensor([4, 0, 2])]
        for chunk in (1, 2, 5, 100):
            got = registry(fps, chunk=chunk, query_chunk=2).attribute(bits)
            assert got.best.tolist() == [4, 0, 2]
            assert got.n_correct.tolist() == [20, 20, 20]

    @pytest.mark.parametrize(("n", "m", "n_bits", "alpha"), CASES)
    def test_small_chunks_equal_one_big_chunk(self, n, m, n_bits, alpha):
        bits, fps = make_data(n, m, n_bits, seed=2)
        big = registry(fps, chunk=10**9, query_chunk=10**9).attribute(bits, alpha)
        chunk = max(1, min(n, m) // 3 - 1)  # smaller than both M and N, not dividing them
        small = registry(fps, chunk=chunk, query_chunk=chunk).attribute(bits, alpha)
        for field in ("best", "n_correct", "log_p", "decision"):
            assert torch.equal(getattr(small, field), getattr(big, field)), field

    @pytest.mark.parametrize("n_bits", [1, 7, 8, 9, 13, 100, 300])
    def test_hamming_distances_match_scipy(self, n_bits):
        bits, fps = make_data(9, 11, n_bits, seed=3)
        got = registry(fps).distances(bits)
        np.testing.assert_array_equal(got.numpy(), ref_distances(bits, fps))

    def test_soft_query_scores_are_rounded_like_dense_attribute(self):
        bits, fps = make_data(10, 20, 48, seed=4)
        soft = bits.float() * 0.8 + 0.1  # 0 -> 0.1, 1 -> 0.9
        assert_same_decision(registry(fps).attribute(soft), attribute(soft, fps))


class TestFaissBackend:
    @pytest.mark.parametrize(("n", "m", "n_bits", "alpha"), CASES)
    def test_agrees_with_torch_backend(self, n, m, n_bits, alpha):
        pytest.importorskip("faiss")
        bits, fps = make_data(n, m, n_bits, seed=5)
        got = registry(fps, backend="faiss").attribute(bits, alpha)
        want = registry(fps, backend="torch").attribute(bits, alpha)
        assert_same_decision(got, want)
        # faiss' best may differ on exact ties only: it is always a minimiser of the distance
        dist = ref_distances(bits, fps)
        assert (dist[np.arange(n), got.best.numpy()] == dist.min(1)).all()
        unique = torch.from_numpy((dist == dist.min(1, keepdims=True)).sum(1) == 1)
        assert torch.equal(got.best[unique], want.best[unique])

    def test_add_remove_keep_faiss_index_in_sync(self):
        pytest.importorskip("faiss")
        bits, fps = make_data(20, 30, 100, seed=6)
        reg = registry(fps[:10], backend="faiss")
        reg.attribute(bits)  # builds the index
        reg.add([f"fp{i}" for i in range(10, 30)], fps[10:])
        reg.remove(["fp3", "fp17"])
        keep = [i for i in range(30) if i not in (3, 17)]
        assert_same_decision(reg.attribute(bits), attribute(bits, fps[keep]))

    def test_auto_picks_faiss_when_importable(self):
        pytest.importorskip("faiss")
        assert FingerprintRegistry(16).backend == "faiss"

    def test_missing_faiss_names_the_extra(self, monkeypatch):
        def no_faiss():
            raise ImportError(f"the faiss backend needs faiss: {fr.FAISS_HINT}")

        monkeypatch.setattr(fr, "_faiss", no_faiss)
        with pytest.raises(ImportError, match=r"pip install fpbench\[faiss\]"):
            FingerprintRegistry(16, backend="faiss")
        assert FingerprintRegistry(16, backend="auto").backend == "torch"


class TestRegistry:
    def test_save_load_round_trip(self, tmp_path):
        bits, fps = make_data(30, 50, 13, seed=7)
        reg = registry(fps)
        reg.remove("fp0")
        path = tmp_path / "registry.safetensors"
        reg.save(path)
        back = FingerprintRegistry.load(path, backend="torch")
        assert back.ids == reg.ids and back.n_bits == 13 and len(back) == 49
        assert torch.equal(back.fingerprints(), fps[1:])
        a, b = reg.attribute(bits, 0.5), back.attribute(bits, 0.5)
        for field in ("best", "n_correct", "log_p", "decision"):
            assert torch.equal(getattr(a, field), getattr(b, field)), field
        assert path.read_bytes()[:1] != b"\x80"  # not a pickle

    def test_empty_registry_round_trip_and_refusal(self, tmp_path):
        reg = FingerprintRegistry(10, backend="torch")
        reg.save(tmp_path / "empty.safetensors")
        back = FingerprintRegistry.load(tmp_path / "empty.safetensors", backend="torch")
        assert len(back) == 0 and back.ids == []
        with pytest.raises(ValueError, match="empty"):
            back.attribute(torch.zeros(1, 10))

    def test_add_remove(self):
        _, fps = make_data(2, 6, 12, seed=8)
        reg = FingerprintRegistry(12, backend="torch")
        reg.add(["a", "b", "c"], fps[:3])
        reg.add("d", fps[3])  # one 1-D fingerprint
        reg.add(["e", "f"], fps[4:].numpy().astype(bool))
        assert len(reg) == 6 and reg.ids == list("abcdef")
        reg.remove(["b", "e"])
        assert reg.ids == ["a", "c", "d", "f"]
        assert torch.equal(reg.fingerprints(), fps[[0, 2, 3, 5]])
        got = reg.attribute(fps[[5, 2]])
        assert got.best.tolist() == [3, 1] and got.n_correct.tolist() == [12, 12]
        with pytest.raises(KeyError, match="not registered"):
            reg.remove("b")
        reg.add("b", fps[1])  # a removed id can be registered again
        assert reg.ids[-1] == "b"

    def test_duplicates_refused(self):
        reg = FingerprintRegistry(4, backend="torch")
        reg.add(["a"], torch.tensor([[0, 1, 0, 1]]))
        with pytest.raises(ValueError, match=r"unique.*\['a'\]"):
            reg.add(["a"], torch.tensor([[1, 1, 0, 1]]))
        with pytest.raises(ValueError, match=r"unique.*\['x'\]"):
            reg.add(["x", "x"], torch.zeros(2, 4))
        assert reg.ids == ["a"]  # nothing half-added

    @pytest.mark.parametrize(("fps", "match"), [
        (torch.zeros(2, 5), r"K x 4.*\(2, 5\).*reshape"),
        (torch.zeros(2, 2, 4), r"K x 4.*\(2, 2, 4\)"),
        (torch.full((2, 4), 2), r"only 0 and 1.*threshold"),
        (torch.full((2, 4), 0.6), r"only 0 and 1"),
        (np.array([[0, 1, 0, np.nan], [0, 0, 0, 0]]), r"only 0 and 1"),
    ])
    def test_bad_fingerprints_refused(self, fps, match):
        reg = FingerprintRegistry(4, backend="torch")
        with pytest.raises(ValueError, match=match):
            reg.add(["a", "b"], fps)
        assert len(reg) == 0

    def test_bad_arguments_refused(self):
        with pytest.raises(ValueError, match="one id per row"):
            FingerprintRegistry(4, backend="torch").add(["a"], torch.zeros(2, 4))
        with pytest.raises(ValueError, match="backend"):
            FingerprintRegistry(4, backend="gpu")
        with pytest.raises(ValueError, match="n_bits"):
            FingerprintRegistry(0)
        reg = registry(torch.zeros(1, 4, dtype=torch.long))
        with pytest.raises(ValueError, match=r"K x 4.*\(1, 5\)"):
            reg.attribute(torch.zeros(1, 5))


class TestAnalyticFalseAttribution:
    @pytest.mark.parametrize(("n_bits", "m", "alpha"), [(16, 50, 0.25), (48, 1000, 1e-3), (100, 10**6, 1e-6),
                                                         (100, 10**7, 0.05), (13, 3, 0.5), (8, 10, 1e-9)])
    def test_matches_scipy(self, n_bits, m, alpha):
        k = np.arange(n_bits + 2)
        k_star = int(k[binom.sf(k - 1, n_bits, 0.5) < alpha / m][0]) if (binom.sf(n_bits - 1, n_bits, 0.5)
                                                                         < alpha / m) else n_bits + 1
        q = binom.sf(k_star - 1, n_bits, 0.5)
        want = -np.expm1(m * np.log1p(-q))
        got = analytic_false_attribution(n_bits, m, alpha)
        assert got == pytest.approx(want, rel=1e-9, abs=0)
        assert got <= alpha  # Bonferroni: the family-wise false attribution rate stays below alpha

    def test_monte_carlo_fresh_fingerprints(self):
        """20000 clean queries, each against its own 50 random fingerprints: iid Bernoulli(rate)."""
        n_bits, m, alpha, n = 16, 50, 0.25, 20000
        rate = analytic_false_attribution(n_bits, m, alpha)
        assert 0.05 < rate < 0.3
        rng = np.random.default_rng(0)
        q = rng.integers(0, 2, (n, 1, n_bits), dtype=np.uint8)
        f = rng.integers(0, 2, (n, m, n_bits), dtype=np.uint8)
        best = (q == f).sum(2).max(1)
        log_p = log_binom_sf(torch.from_numpy(best), n_bits)
        hits = int((log_p < math.log(alpha / m)).sum())
        sigma = math.sqrt(n * rate * (1 - rate))
        assert abs(hits - n * rate) < 4 * sigma, (hits / n, rate)

    def test_monte_carlo_through_registries(self):
        """The same rate measured by FingerprintRegistry.attribute: 100 registries x 200 clean queries."""
        n_bits, m, alpha = 16, 50, 0.25
        rate = analytic_false_attribution(n_bits, m, alpha)
        g = torch.Generator().manual_seed(1)
        hits = n = 0
        for _ in range(100):
            reg = registry(torch.randint(0, 2, (m, n_bits), generator=g))
            res = reg.attribute(torch.randint(0, 2, (200, n_bits), generator=g), alpha)
            hits += int((res.decision != NO_MATCH).sum())
            n += 200
        sigma = math.sqrt(n * rate * (1 - rate))
        assert abs(hits - n * rate) < 4 * sigma, (hits / n, rate)

    def test_stable_for_tiny_rates(self):
        rates = [analytic_false_attribution(100, m, 1e-6) for m in (1, 10, 10**3, 10**6, 10**8)]
        assert all(0 < r < 1e-6 for r in rates)
        assert analytic_false_attribution(100, 1, 1e-6) == pytest.approx(
            math.exp(float(log_binom_sf(74, 100))), rel=1e-12)  # M = 1: q itself, 74 bits at 1e-6
        assert analytic_false_attribution(8, 10, 1e-9) == 0.0  # threshold above n_bits: never a match
