"""fpbench.pipeline.stages.codec.portable_decoder / rebuild_decode: a codec's decoding taken apart into plain values
(what a Ray task of the model-attack stage gets) and rebuilt decodes the same bits as the codec itself: the paper's
networks, a protocol method at its own strength and one turned to another strength."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from fpbench.cache import ArtifactCache
from fpbench.fingerprint.checkpoint import FingerprintModels
from fpbench.fingerprint.embedding import random_fingerprint
from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder
from fpbench.methods import make_method
from fpbench.pipeline.presets import PRESETS
from fpbench.pipeline.stages.codec import Codec, _codec_at, paper_codec, portable_decoder, rebuild_decode
from fpbench.pipeline.stages.context import RunContext

BITS, RES = 8, 16


def _ctx(tmp_path: Path) -> RunContext:
    return RunContext(preset=PRESETS.get("smoke"), cache=ArtifactCache(tmp_path / "cache"), out=tmp_path, progress=False)


def _images(seed: int) -> torch.Tensor:
    return torch.randint(0, 256, (12, 3, RES, RES), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _method_codec(method_id: str, strength: float | None) -> Codec:
    method = make_method(method_id, n_bits=BITS, resolution=RES)
    if strength is None:
        return Codec(method_id, "key", method.embed, method.decode, instance=method)
    return _codec_at(method, method_id, "key", strength)


@pytest.mark.parametrize("make", [
    lambda ctx: paper_codec(ctx, FingerprintModels(FingerprintEncoder(BITS, RES), FingerprintDecoder(BITS, RES)), "k"),
    lambda ctx: _method_codec("lsb", None),
    lambda ctx: _method_codec("dct_qim", None),
    lambda ctx: _method_codec("dct_qim", 6.0),
], ids=["paper", "lsb", "dct_qim", "dct_qim@6"])
def test_a_rebuilt_decoder_decodes_what_the_codec_decodes(make, tmp_path):
    torch.manual_seed(0)
    ctx = _ctx(tmp_path)
    codec = make(ctx)
    stamped = codec.stamp(_images(1), random_fingerprint(BITS, 3)) if codec.instance is not None else _images(1)
    portable = pickle.loads(pickle.dumps(portable_decoder(ctx, codec)))  # as a task receives it
    rebuilt = rebuild_decode(portable)
    for images in (_images(2), stamped):
        torch.testing.assert_close(rebuilt(images), codec.decode(images), atol=0, rtol=0)


def test_a_codec_made_by_hand_is_not_portable(tmp_path):
    codec = Codec("by-hand", "key", lambda images, bits: images, lambda images: torch.zeros(len(images), BITS))
    assert portable_decoder(_ctx(tmp_path), codec) is None
