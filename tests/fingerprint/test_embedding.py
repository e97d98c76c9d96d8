"""fpbench.fingerprint.embedding: stamping one or many fingerprints, decoding any size, input errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fpbench.fingerprint.embedding import (
    bits_to_str,
    decode,
    decode_logits,
    embed,
    random_fingerprint,
    str_to_bits,
    to_float,
    to_uint8,
)
from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder, initialise

N_BITS = 20


@pytest.fixture(scope="module")
def encoder() -> FingerprintEncoder:
    torch.manual_seed(0)
    enc = FingerprintEncoder(N_BITS, 32, "residual")
    initialise(enc)
    return enc.eval()


@pytest.fixture(scope="module")
def decoder() -> FingerprintDecoder:
    torch.manual_seed(1)
    dec = FingerprintDecoder(N_BITS, 32)
    initialise(dec)
    return dec.eval()


def uint8_images(n: int, side: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, side, side), generator=torch.Generator().manual_seed(seed),
                         dtype=torch.uint8)


class TestEmbed:
    def test_matches_the_encoder_quantised(self, encoder):
        images, fp = uint8_images(5, 32), random_fingerprint(N_BITS, 42)
        out = embed(encoder, images, fp)
        assert out.shape == (5, 3, 32, 32) and out.dtype == torch.uint8
        with torch.no_grad():
            want = encoder(images.float() / 255, fp.expand(5, -1))
        assert torch.equal(out, (want * 255).round().clamp(0, 255).to(torch.uint8))

    def test_one_fingerprint_broadcasts_like_repeated_rows(self, encoder):
        images, fp = uint8_images(4, 32), random_fingerprint(N_BITS, 3)
        assert torch.equal(embed(encoder, images, fp), embed(encoder, images, fp.repeat(4, 1)))

    def test_per_image_fingerprints(self, encoder):
        images = uint8_images(4, 32)
        fps = torch.stack([random_fingerprint(N_BITS, s) for s in range(4)])
        out = embed(encoder, images, fps, batch_size=3)
        for i in range(4):  # batching may move a value across a rounding boundary: at most 1 level
            alone = embed(encoder, images[i:i + 1], fps[i])
            assert (out[i:i + 1].int() - alone.int()).abs().max() <= 1
        other = embed(encoder, images[:1], fps[1])
        assert (out[0].int() - other[0].int()).abs().max() > 1

    def test_float_and_uint8_inputs_agree(self, encoder):
        images, fp = uint8_images(2, 32), random_fingerprint(N_BITS, 0)
        assert torch.equal(embed(encoder, images, fp), embed(encoder, images.float() / 255, fp))

    def test_wrong_fingerprint_length(self, encoder):
        with pytest.raises(ValueError, match=f"must have {N_BITS} bits"):
            embed(encoder, uint8_images(2, 32), torch.zeros(N_BITS + 1))
        with pytest.raises(ValueError, match="one row per image"):
            embed(encoder, uint8_images(2, 32), torch.zeros(3, N_BITS))

    def test_wrong_image_size(self, encoder):
        with pytest.raises(ValueError, match="trained at 32x32; got images of 64x64"):
            embed(encoder, uint8_images(2, 64), torch.zeros(N_BITS))


class TestDecode:
    def test_native_size_matches_decoder(self, decoder):
        images = uint8_images(6, 32)
        with torch.no_grad():
            logits = decoder(images.float() / 255)
        assert torch.equal(decode_logits(decoder, images), logits)
        torch.testing.assert_close(decode_logits(decoder, images, batch_size=4), logits)
        bits = decode(decoder, images)
        assert bits.shape == (6, N_BITS) and set(bits.unique().tolist()) <= {0.0, 1.0}
        assert torch.equal(bits, (logits > 0).float())

    def test_larger_images_are_resized(self, decoder):
        """A 64x64 image through a 32px decoder: decoded from its antialiased 32x32 version."""
        images = uint8_images(3, 64)
        small = F.interpolate(images.float() / 255, size=(32, 32), mode="bilinear", antialias=True,
                              align_corners=False).clamp(0, 1)
        with torch.no_grad():
            want = (decoder(small) > 0).float()
        assert torch.equal(decode(decoder, images), want)

    def test_upsampled_nearest_keeps_bits_of_constant_images(self, decoder):
        """Resizing must not change a flat image: a 16x16 and a 64x64 flat image decode alike."""
        colour = torch.tensor([30, 140, 220], dtype=torch.uint8).view(1, 3, 1, 1)
        assert torch.equal(decode(decoder, colour.expand(1, 3, 16, 16)), decode(decoder, colour.expand(1, 3, 64, 64)))

    def test_empty_batch(self, decoder):
        assert decode(decoder, torch.zeros(0, 3, 32, 32, dtype=torch.uint8)).shape == (0, N_BITS)


class TestToFloat:
    def test_uint8_scaled(self):
        x = torch.tensor([0, 51, 255], dtype=torch.uint8).view(1, 3, 1, 1)
        assert torch.equal(to_float(x), torch.tensor([0.0, 0.2, 1.0]).view(1, 3, 1, 1))

    @pytest.mark.parametrize(("shape", "match"), [((2, 1, 8, 8), "grayscale"), ((2, 4, 8, 8), "convert to RGB"),
                                                  ((3, 8, 8), "Bx3xHxW"), ((2, 8, 8, 3), "Bx3xHxW")])
    def test_bad_shapes(self, shape, match):
        with pytest.raises(ValueError, match=match):
            to_float(torch.zeros(shape, dtype=torch.uint8))

    @pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool])
    def test_bad_dtypes(self, dtype):
        with pytest.raises(ValueError, match="uint8 or float"):
            to_float(torch.zeros(1, 3, 4, 4, dtype=dtype))

    @pytest.mark.parametrize("value", [1.5, -0.01, 255.0, float("nan")])
    def test_out_of_range_floats(self, value):
        x = torch.full((1, 3, 4, 4), 0.5)
        x[0, 1, 2, 2] = value
        with pytest.raises(ValueError, match=r"in \[0,1\]"):
            to_float(x)

    def test_decode_reports_the_same_errors(self, decoder):
        with pytest.raises(ValueError, match="grayscale"):
            decode(decoder, torch.zeros(1, 1, 32, 32, dtype=torch.uint8))

    def test_to_uint8_rounds_and_clamps(self):
        x = torch.tensor([-0.1, 0.0, 0.5, 1.0, 1.2]).view(1, 5, 1, 1)
        assert to_uint8(x).flatten().tolist() == [0, 0, 128, 255, 255]


class TestFingerprintStrings:
    def test_random_fingerprint_is_reproducible(self):
        a = random_fingerprint(100, 42)
        assert torch.equal(a, random_fingerprint(100, 42)) and not torch.equal(a, random_fingerprint(100, 43))
        assert a.shape == (100,) and set(a.unique().tolist()) == {0.0, 1.0}

    def test_round_trip(self):
        fp = random_fingerprint(37, 1)
        text = bits_to_str(fp)
        assert len(text) == 37 and set(text) <= {"0", "1"}
        assert torch.equal(str_to_bits(text), fp)

    @pytest.mark.parametrize("bad", ["", "0102", "  ", "abc"])
    def test_bad_strings(self, bad):
        with pytest.raises(ValueError, match="0s and 1s"):
            str_to_bits(bad)
