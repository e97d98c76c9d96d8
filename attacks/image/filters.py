"""Non-linear filters: the median filter."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch
import torch.nn.functional as F

from fpbench.attacks.image._checks import check_images, check_odd_kernel
from fpbench.attacks.registry import register_attack

# Images per unfold chunk: bounds the k*k-fold copy to ~64 * 3 * 81 * 1024 floats at 32x32, k=9.
_CHUNK_PIXELS = 1 << 22
# Padded pixels per chunk of the selection network: 128 KB of float32 per intermediate, in cache, and at
# most torch's grain size (32768), so each min/max runs on one thread: with 2 threads on a shared 2-core
# machine, 1 << 17 stalled in OpenMP waits (0.8 s to 20 s per 2000 images) while 1 << 15 took ~0.3 s.
_NETWORK_CHUNK_PIXELS = 1 << 15
# Kernel sizes that use the selection network; column-merge trees measured smallest (ops per pixel).
_NETWORK_TREES: dict[int, object] = {3: ((0, 1), 2), 5: ((0, 1), ((2, 3), 4))}

_Ref = tuple[int, int, int]  # (node, dy, dx): a node's value shifted by (dy, dx) pixels; node 0 = the input


@dataclass(frozen=True)
class _Network:
    """A min/max network over shifted copies of the padded image: ``ops[i] = (is_max, a, b)`` defines
    node ``i + 1``; ``span[n]`` is node n's largest (dy, dx) input offset; ``out`` is the median."""

    ops: tuple[tuple[bool, _Ref, _Ref], ...]
    span: tuple[tuple[int, int], ...]
    out: _Ref


class _Builder:
    """Hash-conses min/max nodes up to translation, so a node shared by neighbouring windows (a sorted
    column, a merged pair of columns) is computed once per pixel, not once per window."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[bool, _Ref, _Ref], int] = {}

    def op(self, is_max: bool, a: _Ref | None, b: _Ref | None) -> _Ref | None:
        if a is None or b is None:  # None is +inf padding: min(x, inf) = x, max(x, inf) = inf
            return None if is_max else (b if a is None else a)
        a, b = sorted((a, b))
        dy, dx = min(a[1], b[1]), min(a[2], b[2])
        key = (is_max, (a[0], a[1] - dy, a[2] - dx), (b[0], b[1] - dy, b[2] - dx))
        return self.nodes.setdefault(key, len(self.nodes) + 1), dy, dx

    def merge(self, a: list, b: list) -> list:
        """Batcher's odd-even merge of sorted lists ``a`` and ``b``, each padded to n/2 with +inf."""
        n = 2
        while n < 2 * max(len(a), len(b)):
            n *= 2
        w = a + [None] * (n // 2 - len(a)) + b + [None] * (n // 2 - len(b))

        def comparators(lo: int, m: int, r: int):  # Knuth 5.3.4 / Batcher 1968, merging with stride r
            if 2 * r < m:
                yield from comparators(lo, m, 2 * r)
                yield from comparators(lo + r, m, 2 * r)
                yield from ((i, i + r) for i in range(lo + r, lo + m - r, 2 * r))
            else:
                yield lo, lo + r

        for i, j in comparators(0, n, 1):
            w[i], w[j] = self.op(False, w[i], w[j]), self.op(True, w[i], w[j])
        return w[:len(a) + len(b)]

    def merge_tree(self, tree: object, lists: list[list]) -> list:
        if isinstance(tree, int):
            return lists[tree]
        left, right = tree  # type: ignore[misc]
        return self.merge(self.merge_tree(left, lists), self.merge_tree(right, lists))


@cache
def _median_network(k: int) -> _Network:
    """The k x k median as a pruned min/max network (k in :data:`_NETWORK_TREES`).

    Each window column is sorted by merging its k pixels (a merge tree of one-element lists), the k sorted
    columns are merged along ``_NETWORK_TREES[k]`` with Batcher's odd-even merge, and the middle output
    is kept. Only the nodes it depends on are computed (k=3: 26 min/max per pixel, k=5: 114; the fixed
    networks over k*k separate inputs need 38 and 198). Exact: min and max return one of their inputs
    unchanged, and a comparator network sorts every input once it sorts every 0/1 input (the 0-1
    principle, Knuth 5.3.4; tests/attacks/test_median_network.py checks all 0/1 windows for k=3 and
    all sorted-column 0/1 windows for k=5); so the
    output is bit for bit the middle of the k*k window values, i.e. what ``torch.median`` returns.
    """
    b = _Builder()
    columns = [b.merge_tree(_balanced(0, k), [[(0, y, x)] for y in range(k)]) for x in range(k)]
    out = b.merge_tree(_NETWORK_TREES[k], columns)[k * k // 2]
    ops = sorted(b.nodes, key=b.nodes.__getitem__)
    live, stack = {0}, [out[0]]  # prune: keep the nodes the median depends on, renumbered in order
    while stack:
        n = stack.pop()
        if n not in live:
            live.add(n)
            stack += [ops[n - 1][1][0], ops[n - 1][2][0]]
    new = {n: i for i, n in enumerate(sorted(live))}
    kept = tuple((m, (new[a[0]], a[1], a[2]), (new[c[0]], c[1], c[2]))
                 for m, a, c in (ops[n - 1] for n in sorted(live) if n))
    span = [(0, 0)]
    for _, a, c in kept:
        span.append((max(a[1] + span[a[0]][0], c[1] + span[c[0]][0]),
                     max(a[2] + span[a[0]][1], c[2] + span[c[0]][1])))
    return _Network(kept, tuple(span), (new[out[0]], out[1], out[2]))


def _balanced(lo: int, hi: int) -> object:
    """A balanced merge tree over leaves lo..hi-1."""
    if hi - lo == 1:
        return lo
    mid = (lo + hi) // 2
    return _balanced(lo, mid), _balanced(mid, hi)


def _network_median(padded: torch.Tensor, k: int) -> torch.Tensor:
    """NxHxW median of each k x k window of the reflect-padded planes ``padded`` by :func:`_median_network`.

    The padded chunk is one flat array, so the copy shifted by (dy, dx) is the contiguous slice at
    ``dy * Wp + dx`` (window positions past a row's end read the next row: garbage, cropped at the end)."""
    net = _median_network(k)
    n, hp, wp = padded.shape
    pad = k // 2
    flat = padded.reshape(-1)
    total = flat.numel()
    last = {}
    for i, (_, a, c) in enumerate(net.ops, start=1):
        last[a[0]] = last[c[0]] = i
    values: dict[int, torch.Tensor] = {0: flat}
    for i, (is_max, a, c) in enumerate(net.ops, start=1):
        length = total - net.span[i][0] * wp - net.span[i][1]
        x, y = (values[r[0]][r[1] * wp + r[2]:r[1] * wp + r[2] + length] for r in (a, c))
        values[i] = torch.maximum(x, y) if is_max else torch.minimum(x, y)
        for r in {a[0], c[0]}:
            if last[r] == i and r != net.out[0]:
                del values[r]  # free intermediates at their last use: the working set stays in cache
    start = net.out[1] * wp + net.out[2]
    med = values[net.out[0]][start:]
    out = torch.empty(total, dtype=padded.dtype, device=padded.device)
    out[:med.numel()] = med
    return out.view(n, hp, wp)[:, :hp - 2 * pad, :wp - 2 * pad]


@register_attack(
    "median_filter", kind="image", param="kernel_size", unit="pixels (odd)",
    grid=(1, 3, 5, 9), neutral=1, domain=(1, 63), category="filter", version=1, integer=True,
    differentiable=True,
)
def median_filter(images: torch.Tensor, kernel_size: int = 3, *, seed: int = 0) -> torch.Tensor:
    """Per-channel median over a ``kernel_size`` x ``kernel_size`` window, reflect padding.

    ``images``: Bx3xHxW float in [0,1]; ``kernel_size`` odd, 1 = identity. Borders use reflect padding
    (PyTorch 'reflect' = scipy.ndimage 'mirror'). Deterministic: ``seed`` is unused. Kernel sizes 3 and 5
    run a min/max selection network (:func:`_median_network`), the others ``torch.median``; the values are
    identical (inputs are finite, as :func:`check_images` enforces: min/max and median would treat NaN
    differently). Gradients equal ``torch.median``'s except on tied window values (min/max split them).
    """
    check_images(images, "median_filter")
    k = check_odd_kernel(kernel_size, "median_filter", allow_zero=False)
    if k == 1 or images.shape[0] == 0:
        return images.clone()
    b, c, h, w = images.shape
    pad = k // 2
    if pad >= min(h, w):
        raise ValueError(f"median_filter: kernel_size {k} is too large for {h}x{w} images")
    flat = images.reshape(b * c, h, w)
    if k in _NETWORK_TREES:
        padded = F.pad(flat, (pad, pad, pad, pad), mode="reflect")  # once: a parallel region per chunk stalls
        step = max(1, _NETWORK_CHUNK_PIXELS // ((h + 2 * pad) * (w + 2 * pad)))
        parts = [_network_median(padded[s:s + step], k) for s in range(0, b * c, step)]
        return torch.cat(parts).reshape(b, c, h, w)
    step = max(1, _CHUNK_PIXELS // (k * k * h * w))
    parts = []
    for start in range(0, b * c, step):
        x = F.pad(flat[start:start + step], (pad, pad, pad, pad), mode="reflect")
        windows = x.unfold(1, k, 1).unfold(2, k, 1)  # N x H x W x k x k
        # the k*k window values contiguous in the last dim: the fastest layout for median on CPU
        parts.append(windows.reshape(-1, h, w, k * k).median(dim=-1).values)
    return torch.cat(parts).reshape(b, c, h, w)
