"""A registry of many fingerprints, and attribution among them in bounded memory.

:func:`fpbench.fingerprint.matching.attribute` builds a dense N x M float matrix of agreeing bits: fine
for a zoo of 4 models, hopeless for 10^6 registered fingerprints. :class:`FingerprintRegistry` stores the
M registered n-bit fingerprints packed 8 bits to a byte (``np.packbits``, little bit order, the last
byte padded with zero bits, the same for queries, so padding never changes a distance) and finds each
query's best match by Hamming distance, never holding more than a fixed chunk of distances:

* ``backend="torch"``: XOR and a 256-entry popcount lookup table on the packed bytes (see
  :func:`hamming_distances`), registered fingerprints in chunks of ``chunk`` rows, queries in chunks of
  ``query_chunk`` rows, with a running best per query;
* ``backend="faiss"``: faiss' exact binary index ``IndexBinaryFlat`` with ``search(k=1)``. faiss is an
  optional extra (``pip install fpbench[faiss]``), imported only when this backend is used;
* ``backend="auto"``: faiss when it imports, else torch.

The decision rule is the one of :func:`~fpbench.fingerprint.matching.attribute`: best match = most
agreeing bits (= smallest Hamming distance), log p-value by
:func:`~fpbench.fingerprint.matching.log_binom_sf`, a match when ``log_p < log(alpha / M)`` (Bonferroni
over the M registered fingerprints), else ``NO_MATCH``.

Ties: with the torch backend ``best`` is the LOWEST registered index among equally good fingerprints.
faiss does not promise a tie order, so with the faiss backend ``best`` may name another fingerprint at the
same distance on an exact tie; ``n_correct``, ``log_p`` and whether the image matched never differ.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fpbench.fingerprint.matching import NO_MATCH, Attribution, log_binom_sf, min_correct_bits

FAISS_HINT = "pip install fpbench[faiss]"
_FORMAT = "fpbench.FingerprintRegistry/1"
_BITORDER = "little"

# popcount of every byte, and of the XOR of every pair of bytes: _POPCOUNT_XOR[a, b] = popcount(a ^ b)
_POPCOUNT = torch.tensor([bin(i).count("1") for i in range(256)], dtype=torch.uint8)
_POPCOUNT_XOR = _POPCOUNT[torch.arange(256)[:, None] ^ torch.arange(256)[None, :]]


def _faiss() -> Any:
    """Import faiss lazily; a clear ImportError naming the extra when it is missing."""
    try:
        import faiss  # noqa: PLC0415 (optional dependency, imported on use only)
    except ImportError as e:
        raise ImportError(f"the faiss backend needs faiss: {FAISS_HINT}") from e
    return faiss


def _faiss_available() -> bool:
    try:
        _faiss()
    except ImportError:
        return False
    return True


def _as_bits(x: torch.Tensor | np.ndarray, n_bits: int, what: str, *, round_values: bool) -> np.ndarray:
    """Validate ``x`` (K x n_bits, or n_bits for one row) of {0,1} values -> K x n_bits uint8 numpy array.

    ``round_values``: round first (decoded bits may be soft scores), as ``matching.attribute`` does."""
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[1] != n_bits:
        raise ValueError(
            f"{what} must be a K x {n_bits} array of bits (one row each), got shape {tuple(a.shape)}; "
            f"reshape it to (K, {n_bits}), or use a registry made for that many bits"
        )
    if a.dtype == np.bool_:
        return a.astype(np.uint8)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{what} must hold numbers 0/1, got dtype {a.dtype}")
    if round_values and np.issubdtype(a.dtype, np.floating):
        a = np.round(a)
    ok = (a == 0) | (a == 1)
    if not ok.all():
        bad = a[~ok].ravel()[:3].tolist()
        raise ValueError(
            f"{what} must hold only 0 and 1, found e.g. {bad}; threshold soft scores first "
            "(e.g. (x > 0.5).long())"
        )
    return a.astype(np.uint8)


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """K x n {0,1} -> K x ceil(n / 8) uint8, little bit order, the last byte padded with zero bits."""
    return np.ascontiguousarray(np.packbits(bits.astype(np.uint8), axis=1, bitorder=_BITORDER))


def unpack_bits(packed: np.ndarray, n_bits: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: K x ceil(n / 8) uint8 -> K x n_bits uint8 {0,1}."""
    return np.unpackbits(packed, axis=1, count=n_bits, bitorder=_BITORDER)


def hamming_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamming distances (in bits) between packed rows: ``a`` K x B uint8, ``b`` L x B uint8 -> L x K.

    XOR + popcount via the 256-entry lookup table, one byte position at a time: for byte j the table
    row ``popcount(a[k, j] ^ v)`` over all 256 values v is built for the K queries (256 x K, cheap), and
    each registered row picks its row ``v = b[l, j]`` (a contiguous copy), so the inner loop is
    byte additions. Result is L x K (registered x queries), uint8 when 8 * B <= 255, else int32."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"packed shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    dtype = torch.uint8 if 8 * a.shape[1] <= 255 else torch.int32
    out = torch.zeros(b.shape[0], a.shape[0], dtype=dtype)
    a_idx, b_idx = a.long(), b.long()
    for j in range(a.shape[1]):
        table = _POPCOUNT_XOR.index_select(1, a_idx[:, j])  # 256 x K: popcount(v ^ a[k, j])
        out += table.index_select(0, b_idx[:, j])  # L x K
    return out


def _best_torch(queries: torch.Tensor, db: torch.Tensor, chunk: int, query_chunk: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Smallest Hamming distance and its LOWEST index, per query. ``queries`` N x B, ``db`` M x B uint8
    -> (N int64 distances in bits, N int64 indices). At most chunk x query_chunk distances at a time."""
    n = queries.shape[0]
    best_d = torch.empty(n, dtype=torch.int64)
    best_i = torch.empty(n, dtype=torch.int64)
    for q0 in range(0, n, query_chunk):
        q = queries[q0:q0 + query_chunk]
        run_d = torch.full((q.shape[0],), torch.iinfo(torch.int64).max, dtype=torch.int64)
        run_i = torch.zeros(q.shape[0], dtype=torch.int64)
        for m0 in range(0, db.shape[0], chunk):
            d = hamming_distances(q, db[m0:m0 + chunk])  # chunk x q
            d_min = d.amin(0).long()
            better = d_min < run_d  # strict: an earlier chunk keeps a tie (lowest index)
            if better.any():
                cols = better.nonzero().squeeze(1)
                sub = d.index_select(1, cols)  # chunk x s, only queries that improved
                first = (sub == d_min[cols].to(sub.dtype)).byte().argmax(0)  # first (lowest) minimum
                run_d[cols] = d_min[cols]
                run_i[cols] = first + m0
        best_d[q0:q0 + q.shape[0]] = run_d
        best_i[q0:q0 + q.shape[0]] = run_i
    return best_d, best_i


class FingerprintRegistry:
    """M registered n-bit fingerprints with unique string ids; attribution in bounded memory.

    ``n_bits``: fingerprint length. ``backend``: "auto" (faiss when importable, else torch), "torch" or
    "faiss". ``chunk``: registered fingerprints per step of the torch backend; ``query_chunk``: queries
    per step; the torch backend holds at most ``chunk x query_chunk`` distances (1 byte each for up to
    255 bits, else 4) plus a ``256 x query_chunk`` table at a time. Index ``i`` in an
    :class:`~fpbench.fingerprint.matching.Attribution` names ``self.ids[i]``; :meth:`remove` shifts the
    indices of later fingerprints down, keeping their order.
    """

    def __init__(self, n_bits: int, *, backend: str = "auto", chunk: int = 16384, query_chunk: int = 256):
        if int(n_bits) != n_bits or n_bits < 1:
            raise ValueError(f"n_bits must be a positive integer, got {n_bits!r}")
        if backend not in ("auto", "torch", "faiss"):
            raise ValueError(f"backend must be 'auto', 'torch' or 'faiss', got {backend!r}")
        if chunk < 1 or query_chunk < 1:
            raise ValueError(f"chunk and query_chunk must be >= 1, got {chunk}, {query_chunk}")
        if backend == "faiss":
            _faiss()  # fail now, with the install hint, not at the first attribute()
        self.n_bits = int(n_bits)
        self.n_bytes = (self.n_bits + 7) // 8
        self.backend = backend if backend != "auto" else ("faiss" if _faiss_available() else "torch")
        self.chunk = int(chunk)
        self.query_chunk = int(query_chunk)
        self._packed = np.zeros((0, self.n_bytes), dtype=np.uint8)  # M x n_bytes
        self._ids: list[str] = []
        self._index_of: dict[str, int] = {}
        self._faiss_index: Any = None  # built lazily, dropped on remove()
        self._log_sf = log_binom_sf(torch.arange(self.n_bits + 1), self.n_bits)  # n_bits+1 float64

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"FingerprintRegistry(n_bits={self.n_bits}, M={len(self)}, backend={self.backend!r})"

    @property
    def ids(self) -> list[str]:
        """The registered ids, in index order (a copy)."""
        return list(self._ids)

    @property
    def packed(self) -> np.ndarray:
        """M x ceil(n_bits / 8) uint8 packed fingerprints (read-only view)."""
        v = self._packed.view()
        v.flags.writeable = False
        return v

    def fingerprints(self) -> torch.Tensor:
        """The registered fingerprints unpacked: M x n_bits int64 {0,1}."""
        return torch.from_numpy(unpack_bits(self._packed, self.n_bits).astype(np.int64))

    def add(self, ids: str | Sequence[str], fingerprints: torch.Tensor | np.ndarray) -> None:
        """Register fingerprints (K x n_bits {0,1}, torch or numpy; one row may be 1-D) under new ids."""
        ids = [ids] if isinstance(ids, str) else list(ids)
        if not all(isinstance(i, str) for i in ids):
            raise TypeError(f"ids must be strings, got {[type(i).__name__ for i in ids][:3]}")
        bits = _as_bits(fingerprints, self.n_bits, "fingerprints", round_values=False)
        if len(ids) != bits.shape[0]:
            raise ValueError(f"got {len(ids)} ids for {bits.shape[0]} fingerprints; pass one id per row")
        dup = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
        dup += sorted(i for i in set(ids) if i in self._index_of)
        if dup:
            raise ValueError(
                f"fingerprint ids must be unique; already registered or repeated: {dup[:5]}; "
                "remove() them first or choose other ids"
            )
        packed = pack_bits(bits)
        start = len(self._ids)
        self._packed = np.ascontiguousarray(np.concatenate([self._packed, packed]))
        self._ids.extend(ids)
        self._index_of.update({i: start + k for k, i in enumerate(ids)})
        if self._faiss_index is not None:
            self._faiss_index.add(packed)

    def remove(self, ids: str | Iterable[str]) -> None:
        """Unregister fingerprints by id; the others keep their order (later indices shift down)."""
        ids = [ids] if isinstance(ids, str) else list(ids)
        missing = [i for i in ids if i not in self._index_of]
        if missing:
            raise KeyError(f"not registered: {missing[:5]}")
        keep = np.ones(len(self._ids), dtype=bool)
        keep[[self._index_of[i] for i in ids]] = False
        self._packed = np.ascontiguousarray(self._packed[keep])
        self._ids = [i for i, k in zip(self._ids, keep, strict=True) if k]
        self._index_of = {i: k for k, i in enumerate(self._ids)}
        self._faiss_index = None

    def _best_faiss(self, queries: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        if self._faiss_index is None:
            index = _faiss().IndexBinaryFlat(8 * self.n_bytes)  # code size = n_bytes, zero padding bits
            index.add(self._packed)
            self._faiss_index = index
        d, i = self._faiss_index.search(queries, 1)  # N x 1 int32 distances, N x 1 int64 indices
        return torch.from_numpy(d[:, 0].astype(np.int64)), torch.from_numpy(i[:, 0].astype(np.int64))

    def distances(self, bits: torch.Tensor | np.ndarray) -> torch.Tensor:
        """All Hamming distances, N x M int64 (small cases and tests only: this IS the dense matrix)."""
        q = torch.from_numpy(pack_bits(_as_bits(bits, self.n_bits, "bits", round_values=True)))
        return hamming_distances(q, torch.from_numpy(self._packed)).T.long()

    def attribute(self, bits: torch.Tensor | np.ndarray, alpha: float = 1e-6) -> Attribution:
        """Attribute N decoded bit strings (N x n_bits {0,1}, rounded first) to the registered fingerprints.

        Same rule as :func:`fpbench.fingerprint.matching.attribute`: a match when the best fingerprint's
        p-value < alpha / M. Ties: lowest index with the torch backend; see the module docstring for
        faiss. Returns N-long tensors (``best``/``decision`` index :attr:`ids`)."""
        if len(self) == 0:
            raise ValueError("the registry is empty: add() fingerprints before attribute()")
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        queries = pack_bits(_as_bits(bits, self.n_bits, "bits", round_values=True))
        if self.backend == "faiss":
            dist, best = self._best_faiss(queries)
        else:
            dist, best = _best_torch(torch.from_numpy(queries), torch.from_numpy(self._packed),
                                     self.chunk, self.query_chunk)
        n_correct = self.n_bits - dist
        log_p = self._log_sf[n_correct]
        threshold = math.log(alpha / len(self))
        decision = torch.where(log_p < threshold, best, torch.full_like(best, NO_MATCH))
        return Attribution(best=best, n_correct=n_correct, log_p=log_p, decision=decision)

    def save(self, path: str | Path) -> None:
        """Write a safetensors file: packed bytes (M x n_bytes uint8) and n_bits; ids as JSON metadata."""
        from safetensors.torch import save_file  # noqa: PLC0415 (keeps import of this module light)

        tensors = {"packed": torch.from_numpy(self._packed.copy()),
                   "n_bits": torch.tensor([self.n_bits], dtype=torch.int64)}
        metadata = {"format": _FORMAT, "bitorder": _BITORDER, "ids": json.dumps(self._ids)}
        save_file(tensors, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: str | Path, *, backend: str = "auto", chunk: int = 16384,
             query_chunk: int = 256) -> FingerprintRegistry:
        """Read a registry written by :meth:`save` (safetensors; no pickle)."""
        from safetensors import safe_open  # noqa: PLC0415

        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            if metadata.get("format") != _FORMAT or metadata.get("bitorder") != _BITORDER:
                raise ValueError(f"{path} is not a {_FORMAT} file (metadata {sorted(metadata)})")
            packed = f.get_tensor("packed").numpy()
            n_bits = int(f.get_tensor("n_bits")[0])
        ids = json.loads(metadata["ids"])
        reg = cls(n_bits, backend=backend, chunk=chunk, query_chunk=query_chunk)
        if packed.shape != (len(ids), reg.n_bytes):
            raise ValueError(f"{path}: packed shape {packed.shape} does not fit {len(ids)} ids of {n_bits} bits")
        reg.add(ids, unpack_bits(packed, n_bits))
        return reg


def analytic_false_attribution(n_bits: int, m: int, alpha: float) -> float:
    """Probability that a clean image (decoded bits uniform random) is attributed to one of M fingerprints.

    Each registered fingerprint agrees with k >= k* bits with probability q = P(X >= k*), X ~ Bin(n, 1/2),
    k* = ``min_correct_bits(n_bits, alpha / m)`` the decision threshold; independent across M random
    fingerprints, so the rate is 1 - (1 - q)^M, computed as -expm1(M log1p(-q)). Always <= M q < alpha."""
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    k_star = min_correct_bits(n_bits, alpha / m)
    q = math.exp(float(log_binom_sf(k_star, n_bits)))
    if q >= 1.0:
        return 1.0
    return -math.expm1(m * math.log1p(-q))
