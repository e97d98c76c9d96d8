"""The median filter's min/max selection network (kernel 3 and 5) against the plain ``torch.median``
path it replaced and scipy: bit-identical outputs, plus an exhaustive 0-1 proof of the network."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
import torch.nn.functional as F

from fpbench.attacks.image.filters import _NETWORK_TREES, _median_network, median_filter


def _torch_median_reference(images: torch.Tensor, k: int) -> torch.Tensor:
    """The implementation before the network: reflect padding, unfold, torch.median over the window."""
    b, c, h, w = images.shape
    pad = k // 2
    x = F.pad(images.reshape(b * c, h, w), (pad, pad, pad, pad), mode="reflect")
    windows = x.unfold(1, k, 1).unfold(2, k, 1).reshape(b * c, h, w, k * k)
    return windows.median(dim=-1).values.reshape(b, c, h, w)


def _evaluate(k: int, window: np.ndarray) -> np.ndarray:
    """Run the network on windows ``window[..., k, k]`` (dy, dx) directly, node by node."""
    net = _median_network(k)
    pad = np.zeros(window.shape[:-2] + (2 * k, 2 * k), window.dtype)  # room for every node's shifts
    pad[..., :k, :k] = window
    values = {0: pad}
    for i, (is_max, a, c) in enumerate(net.ops, start=1):
        x, y = (np.roll(values[r[0]], (-r[1], -r[2]), axis=(-2, -1)) for r in (a, c))
        values[i] = np.maximum(x, y) if is_max else np.minimum(x, y)
    return np.roll(values[net.out[0]], (-net.out[1], -net.out[2]), axis=(-2, -1))[..., 0, 0]


@pytest.mark.parametrize("k", [3, 5])
def test_network_selects_the_median_of_every_01_window(k):
    """0-1 principle: a min/max network that returns the median of every 0/1 input returns the median
    of every input. k=3 checks all 2**9 windows. For k=5 (2**25 windows) it checks the 6**5 windows with
    sorted 0/1 columns, i.e. the merge of the sorted columns exhaustively (each column is sorted first by
    Batcher's odd-even merge sort of its 5 pixels), plus 20,000 random 0/1 windows."""
    if k == 3:
        windows = np.array(list(itertools.product((0, 1), repeat=9)), np.uint8).reshape(-1, 3, 3)
    else:
        sorted_cols = [np.array([0] * (5 - ones) + [1] * ones, np.uint8) for ones in range(6)]
        windows = np.stack([np.stack(cols, axis=1) for cols in itertools.product(sorted_cols, repeat=5)])
        rng = np.random.default_rng(0)
        windows = np.concatenate([windows, rng.integers(0, 2, (20_000, 5, 5), dtype=np.uint8)])
    want = (windows.reshape(len(windows), -1).sum(1) > k * k // 2).astype(np.uint8)
    assert np.array_equal(_evaluate(k, windows), want)


def test_network_sizes():
    assert {k: len(_median_network(k).ops) for k in _NETWORK_TREES} == {3: 26, 5: 114}


SHAPES = [(4, 3, 32, 32), (1, 3, 7, 9), (2, 3, 11, 6), (3, 3, 6, 13), (1, 3, 5, 5)]


@pytest.mark.parametrize("k", [3, 5, 7])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("values", ["uniform", "quantised"])
def test_bit_identical_to_torch_median_and_scipy(k, shape, values):
    if k // 2 >= min(shape[2:]):
        pytest.skip("kernel too large for the image")
    g = torch.Generator().manual_seed(k * 1000 + sum(shape))
    x = torch.rand(shape, generator=g)
    if values == "quantised":  # many ties, as in real uint8 images
        x = (x * 4).round() / 4
    got = median_filter(x, k)
    assert torch.equal(got, _torch_median_reference(x, k))
    scipy_out = ndi.median_filter(x.numpy(), size=(1, 1, k, k), mode="mirror")
    assert torch.equal(got, torch.from_numpy(scipy_out))


@pytest.mark.parametrize("k", [3, 5])
def test_many_chunks_and_float64(k, monkeypatch):
    import fpbench.attacks.image.filters as filters
    monkeypatch.setattr(filters, "_NETWORK_CHUNK_PIXELS", 200)  # ~1 plane per chunk
    x = torch.rand(5, 3, 9, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.equal(median_filter(x, k), _torch_median_reference(x, k))


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("batch", [0, 1])
def test_empty_and_single_batches(k, batch):
    x = torch.rand(batch, 3, 10, 12, generator=torch.Generator().manual_seed(2))
    got = median_filter(x, k)
    assert got.shape == x.shape and torch.equal(got, _torch_median_reference(x, k) if batch else x)


def test_gradient_flows():
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    median_filter(x, 5).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.sum() > 0
