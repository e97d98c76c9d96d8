"""PIL encode/decode round trips of uint8 images (the real libjpeg/libwebp codecs), one image at a time or
spread over a persistent pool of worker processes.

At 32x32 a JPEG round trip costs ~120 us, nearly all inside PIL with the GIL held, so threads do not help
(measured: 2 threads 2,408 img/s against 3,947 serial); processes do. The pool is forked once per process (on
Linux; elsewhere the loop runs serially) and kept; its workers run only numpy and PIL; a batch is cut into
one contiguous chunk per worker, so the output equals the serial loop byte for byte.
"""

from __future__ import annotations

import atexit
import io
import multiprocessing
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import pairwise
from typing import TypeVar

import numpy as np
from PIL import Image

MIN_CHUNK = 64  # images per worker below which the pool's transfer costs more than it saves

_pools: dict[int, ProcessPoolExecutor] = {}
T = TypeVar("T")


def roundtrip_uint8(image: np.ndarray, fmt: str, options: Mapping[str, object]) -> np.ndarray:
    """Encode one HxWx3 uint8 image with ``Image.save(format=fmt, **options)`` and decode it to RGB."""
    buf = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buf, format=fmt, **options)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.asarray(decoded.convert("RGB"))


def _roundtrip_chunk(images: np.ndarray, fmt: str, options: Mapping[str, object]) -> np.ndarray:
    return np.stack([roundtrip_uint8(a, fmt, options) for a in images])


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Worker processes are forked (Linux): a spawned worker would re-run the caller's ``__main__``, which
    breaks any script without an ``if __name__ == "__main__"`` guard. The forked worker runs only PIL and
    numpy, never torch or OpenMP, so the parent's threads cannot deadlock it."""
    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()


def _pool(workers: int) -> ProcessPoolExecutor:
    if workers not in _pools:
        _pools[workers] = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    return _pools[workers]


@atexit.register
def shutdown_pools() -> None:
    """Stop every worker (they are also stopped at exit)."""
    while _pools:
        _pools.popitem()[1].shutdown(cancel_futures=True)


def worker_count(n_items: int, workers: int) -> int:
    """How many pool processes a batch of ``n_items`` gets when ``workers`` are asked for: capped by
    ``FPBENCH_CODEC_WORKERS`` (0 or 1: always serial), the usable CPUs and ``MIN_CHUNK`` items per worker;
    1 where processes cannot be forked."""
    cap = os.environ.get("FPBENCH_CODEC_WORKERS")
    if cap is not None:
        workers = min(workers, max(1, int(cap)))
    return max(1, min(workers, usable_cpus(), n_items // MIN_CHUNK)) if can_fork() else 1


def map_chunks(fn: Callable[..., T], items: Sequence, workers: int, *args: object) -> list[T]:
    """``fn(chunk, *args)`` for ``items`` cut into ``worker_count`` contiguous chunks, run in the persistent
    pool's processes (in order), or ``[fn(items, *args)]`` in this process when one worker is all the batch
    gets. ``fn`` must be a module-level function of numpy/PIL work only (see :func:`can_fork`). A worker that
    died (killed, out of memory) drops the pool and the batch is done here: the same result either way."""
    workers = worker_count(len(items), workers)
    if workers <= 1:
        return [fn(items, *args)]
    bounds = np.linspace(0, len(items), workers + 1).astype(int)
    try:
        with warnings.catch_warnings():  # Python >= 3.12 warns on any fork of a threaded process; see can_fork
            warnings.simplefilter("ignore", DeprecationWarning)
            futures = [_pool(workers).submit(fn, items[a:b], *args) for a, b in pairwise(bounds)]
        return [f.result() for f in futures]
    except BrokenProcessPool:
        _pools.pop(workers).shutdown(cancel_futures=True)
        return [fn(items, *args)]


def roundtrip_many(images: np.ndarray, fmt: str, options: Mapping[str, object], workers: int = 1) -> np.ndarray:
    """Round-trip each of ``images`` (BxHxWx3 uint8) through PIL's ``fmt`` codec at ``options``: serially,
    or with ``workers`` > 1 in that many processes when the batch gives each at least ``MIN_CHUNK``
    images (:func:`map_chunks`). Same bytes either way."""
    if len(images) == 0:
        return images.copy()
    return np.concatenate(map_chunks(_roundtrip_chunk, images, workers, fmt, dict(options)))
