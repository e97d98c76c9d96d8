"""fpbench.pil_codec: PIL round trips spread over worker processes give the serial loop's bytes (the real
codecs, checked against PIL called directly), a cap of one worker keeps them in this process, and a pool
whose worker died is replaced without losing the batch."""

from __future__ import annotations

import io
import os
import signal

import numpy as np
import pytest
from PIL import Image

from fpbench import pil_codec
from fpbench.pil_codec import MIN_CHUNK, roundtrip_many, shutdown_pools

pytestmark = pytest.mark.skipif(not pil_codec.can_fork(), reason="worker pool only where processes fork")


def _images(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 32, dtype=np.float64)[None, :, None, None]
    noise = rng.normal(0, 20, (n, 32, 32, 3))
    return np.clip(ramp.transpose(0, 2, 1, 3) + noise, 0, 255).astype(np.uint8)


def _pil(image: np.ndarray, fmt: str, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, quality=quality)
    return np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


@pytest.fixture(autouse=True)
def _fresh_pools():
    shutdown_pools()
    yield
    shutdown_pools()


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_two_workers_give_pil_bytes(fmt):
    images = _images(2 * MIN_CHUNK + 7)
    out = roundtrip_many(images, fmt, {"quality": 50}, workers=2)
    assert list(pil_codec._pools) == [2]  # the batch went through the pool
    expected = np.stack([_pil(a, fmt, 50) for a in images])
    assert out.dtype == np.uint8 and np.array_equal(out, expected)
    assert not np.array_equal(out, images)  # the codec did something


def test_small_batches_and_the_cap_stay_in_process(monkeypatch):
    roundtrip_many(_images(2 * MIN_CHUNK - 1), "JPEG", {"quality": 90}, workers=2)
    assert pil_codec._pools == {}
    monkeypatch.setenv("FPBENCH_CODEC_WORKERS", "1")
    roundtrip_many(_images(4 * MIN_CHUNK), "JPEG", {"quality": 90}, workers=4)
    assert pil_codec._pools == {}
    assert roundtrip_many(_images(0), "JPEG", {"quality": 90}, workers=2).shape == (0, 32, 32, 3)


def test_a_dead_worker_loses_nothing():
    images = _images(2 * MIN_CHUNK)
    first = roundtrip_many(images, "JPEG", {"quality": 70}, workers=2)
    for pid in list(pil_codec._pools[2]._processes):
        os.kill(pid, signal.SIGKILL)
    again = roundtrip_many(images, "JPEG", {"quality": 70}, workers=2)  # broken pool: this batch in-process
    assert np.array_equal(first, again)
    assert np.array_equal(roundtrip_many(images, "JPEG", {"quality": 70}, workers=2), first)  # a new pool
