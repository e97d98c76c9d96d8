"""The classical, training-free methods ``lsb`` and ``dct_qim``: they stamp and read back their own bits,
stay invisible (PSNR), are keyed, deterministic and strict about their inputs; the block DCT matches
scipy's; and JPEG q90 (PIL's real codec) wipes out LSB but not DCT-QIM."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import scipy.fft
import torch
import torch.nn.functional as F
from PIL import Image

from fpbench.data.builtin import BuiltinData, crops
from fpbench.methods import MethodError, all_methods, load_method, make_method, save_method
from fpbench.methods.dct_qim import DCTQIM, band_positions, block_dct, block_idct, dct_matrix
from fpbench.methods.lsb import LSB
from fpbench.metrics import psnr

METHODS = ("lsb", "dct_qim")
SIZES = ((16, 16), (48, 32))  # (n_bits, resolution)


def bit_accuracy(soft: torch.Tensor, bits: torch.Tensor) -> float:
    return ((soft > 0.5).float() == bits).float().mean().item()


def random_bits(n: int, n_bits: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 2, (n, n_bits), generator=torch.Generator().manual_seed(seed)).float()


def smooth_images(n: int, resolution: int, seed: int = 0) -> torch.Tensor:
    """Gaussian-blurred (sigma 1.5 px, circular) uniform noise, stretched to 0..255 per image: uint8."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n * 3, 1, resolution, resolution, generator=g)
    k = torch.exp(-torch.arange(-4, 5, dtype=torch.float32) ** 2 / (2 * 1.5**2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (4, 4, 0, 0), mode="circular"), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, 4, 4), mode="circular"), k.view(1, 1, -1, 1)).view(n, 3, resolution, resolution)
    lo, hi = x.amin((1, 2, 3), keepdim=True), x.amax((1, 2, 3), keepdim=True)
    return ((x - lo) / (hi - lo) * 255).round().to(torch.uint8)


def noise_images(n: int, resolution: int, seed: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, resolution, resolution), generator=g, dtype=torch.uint8)


def photo_images(n: int, resolution: int) -> torch.Tensor:
    return crops(BuiltinData("test", n, resolution))


IMAGES = {"photo": photo_images, "smooth": smooth_images, "noise": noise_images}


def jpeg(images: torch.Tensor, quality: int) -> torch.Tensor:
    """Each uint8 image through PIL's libjpeg at ``quality`` (default settings: 4:2:0 chroma subsampling)."""
    out = []
    for img in images:
        buf = io.BytesIO()
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(buf, "JPEG", quality=quality)
        buf.seek(0)
        with Image.open(buf) as decoded:
            out.append(torch.from_numpy(np.array(decoded.convert("RGB"))).permute(2, 0, 1))
    return torch.stack(out)


# -- registry, config, state -----------------------------------------------------------------------


@pytest.mark.parametrize("method_id", METHODS)
def test_registered_training_free_with_full_config(method_id, tmp_path):
    assert method_id in all_methods()
    m = make_method(method_id, n_bits=16, resolution=16, key=7)
    assert m.id == method_id and not m.learned
    assert m.config["id"] == method_id and m.config["n_bits"] == 16 and m.config["resolution"] == 16
    assert m.config["key"] == 7
    assert ("max_repeat" in m.config) if method_id == "lsb" else (m.config["delta"] == 16.0)
    json.dumps(m.config)  # plain values
    assert m.state_dict() == {}
    m.load_state_dict({})
    images = photo_images(4, 16)
    assert m.fit(images) is m
    with pytest.raises(MethodError, match="no learned state"):
        m.load_state_dict({"w": torch.zeros(1)})
    path = save_method(m, tmp_path / "m.safetensors")
    load_method(make_method(method_id, n_bits=16, resolution=16, key=7), path)
    with pytest.raises(MethodError, match="config"):
        load_method(make_method(method_id, n_bits=16, resolution=16, key=8), path)


# -- round trip and invisibility -------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(IMAGES))
@pytest.mark.parametrize(("n_bits", "resolution"), SIZES)
@pytest.mark.parametrize("method_id", METHODS)
def test_decodes_its_own_stamp_invisibly(method_id, n_bits, resolution, kind):
    images = IMAGES[kind](32, resolution)
    bits = random_bits(32, n_bits)
    m = make_method(method_id, n_bits=n_bits, resolution=resolution)
    stamped = m.embed(images, bits)
    assert stamped.dtype == torch.uint8 and stamped.shape == images.shape
    soft = m.decode(stamped)
    assert soft.shape == (32, n_bits) and soft.dtype == torch.float32
    assert bit_accuracy(soft, bits) >= 0.99
    p = psnr(stamped.float() / 255, images.float() / 255)
    print(f"{method_id} {n_bits} bits {resolution}px {kind}: bit accuracy {bit_accuracy(soft, bits):.4f}, "
          f"PSNR mean {p.mean():.2f} dB, min {p.min():.2f} dB")
    assert p.min() >= 35


@pytest.mark.parametrize("method_id", METHODS)
def test_float_input_same_as_its_uint8_and_one_bit_string_for_all(method_id):
    images = smooth_images(8, 16)
    m = make_method(method_id, n_bits=16, resolution=16)
    bits = random_bits(1, 16)[0]
    from_uint8 = m.embed(images, bits)
    assert torch.equal(m.embed(images.float() / 255, bits), from_uint8)
    assert torch.equal(m.embed(images, bits.expand(8, -1)), from_uint8)
    assert bit_accuracy(m.decode(from_uint8), bits.expand(8, -1)) >= 0.99


@pytest.mark.parametrize(("n_bits", "resolution"), SIZES)
@pytest.mark.parametrize("method_id", METHODS)
def test_other_key_decodes_at_chance(method_id, n_bits, resolution):
    images = photo_images(64, resolution)
    bits = random_bits(64, n_bits)
    stamped = make_method(method_id, n_bits=n_bits, resolution=resolution, key=0).embed(images, bits)
    other = make_method(method_id, n_bits=n_bits, resolution=resolution, key=1)
    acc = bit_accuracy(other.decode(stamped), bits)
    print(f"{method_id} {n_bits} bits {resolution}px: bit accuracy with another key {acc:.3f}")
    assert 0.3 < acc < 0.7


@pytest.mark.parametrize("method_id", METHODS)
def test_deterministic_and_inputs_untouched(method_id):
    images = photo_images(8, 32)
    as_float = images.float() / 255
    bits = random_bits(8, 48)
    before = (images.clone(), as_float.clone(), bits.clone())
    torch.manual_seed(123)
    a = make_method(method_id, n_bits=48, resolution=32, key=5).embed(images, bits)
    torch.manual_seed(456)  # the global RNG plays no part
    m = make_method(method_id, n_bits=48, resolution=32, key=5)
    b = m.embed(as_float, bits)
    assert torch.equal(a, b)
    assert torch.equal(m.decode(a), m.decode(b))
    assert torch.equal(images, before[0]) and torch.equal(as_float, before[1]) and torch.equal(bits, before[2])
    decoded_input = as_float.clone()
    m.decode(decoded_input)
    assert torch.equal(decoded_input, as_float)


@pytest.mark.parametrize("method_id", METHODS)
def test_decodes_images_of_another_size(method_id):
    images = photo_images(8, 16)
    bits = random_bits(8, 16)
    m = make_method(method_id, n_bits=16, resolution=16)
    stamped = m.embed(images, bits)
    for size in (32, 24, 12):
        resized = F.interpolate(stamped.float() / 255, size=(size, size), mode="bilinear",
                                align_corners=False).clamp(0, 1)
        soft = m.decode(resized)
        assert soft.shape == (8, 16) and soft.dtype == torch.float32
        assert soft.min() >= 0 and soft.max() <= 1
    assert m.decode((stamped.float() / 255)[:, :, :12, :]).shape == (8, 16)  # not even square


@pytest.mark.parametrize("method_id", METHODS)
def test_no_images(method_id):
    m = make_method(method_id, n_bits=16, resolution=16)
    empty = torch.zeros(0, 3, 16, 16, dtype=torch.uint8)
    assert m.embed(empty, torch.ones(16)).shape == (0, 3, 16, 16)
    assert m.decode(empty).shape == (0, 16)


# -- bad inputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method_id", METHODS)
def test_bad_inputs_are_method_errors(method_id):
    m = make_method(method_id, n_bits=16, resolution=16)
    images = smooth_images(4, 16)
    with pytest.raises(MethodError, match="16 bits"):
        m.embed(images, torch.ones(15))
    with pytest.raises(MethodError, match="16 bits"):
        m.embed(images, torch.ones(3, 16))  # one per image, but 3 rows for 4 images
    with pytest.raises(MethodError, match="0s and 1s"):
        m.embed(images, torch.full((16,), 0.5))
    with pytest.raises(MethodError, match="0s and 1s"):
        m.embed(images, [1] * 16)
    with pytest.raises(MethodError, match="16x16"):
        m.embed(smooth_images(4, 32), torch.ones(16))
    with pytest.raises(MethodError, match="Bx3xHxW"):
        m.embed(images[:, :1], torch.ones(16))
    with pytest.raises(MethodError, match=r"\[0,1\]"):
        m.decode(images.float())  # 0..255 floats
    with pytest.raises(MethodError, match="torch tensor"):
        m.decode(images.numpy())
    with pytest.raises(MethodError, match="key"):
        make_method(method_id, n_bits=16, resolution=16, key=-1)
    with pytest.raises(MethodError, match="key"):
        make_method(method_id, n_bits=16, resolution=16, key="0")
    with pytest.raises(MethodError, match="unknown option"):
        make_method(method_id, n_bits=16, resolution=16, amplitude=2)
    with pytest.raises(MethodError, match="strength must be a number"):
        make_method(method_id, n_bits=16, resolution=16, strength=0.01)


def test_lsb_at_strength_one_is_classical_lsb_replacement_for_every_level():
    """The lattice path at strength 1 is ``(v & ~1) | b`` for every level and bit (ties stay in the cell)."""
    m = LSB(8, 16)
    v = torch.arange(256).repeat(2)
    b = torch.cat([torch.zeros(256), torch.ones(256)]).long()
    assert torch.equal(m._to_lattice(v.double(), b.double()), ((v & 0xFE) | b).to(torch.uint8))


@pytest.mark.parametrize("method_id", METHODS)
def test_more_strength_costs_psnr_and_still_reads_back(method_id: str):
    """Strength trades PSNR for amplitude: the PSNR falls monotonically over a ladder of strengths, and
    every stamp still decodes exactly (a strength that breaks decoding would make matching meaningless)."""
    images = smooth_images(16, 32)
    bits = random_bits(16, 48)
    m = make_method(method_id, n_bits=48, resolution=32)
    quality = []
    for s in (1.0, 1.5, 2.5, 4.0):
        m.strength = s
        stamped = m.embed(images, bits)
        quality.append(psnr(images.float() / 255, stamped.float() / 255).mean().item())
        assert bit_accuracy(m.decode(stamped), bits) == 1.0, s
    assert quality == sorted(quality, reverse=True) and quality[0] - quality[-1] > 8, quality


def test_dct_qim_strength_is_delta_in_units_of_sixteen_levels():
    assert DCTQIM(16, 16, strength=1.5).delta == 24.0 and DCTQIM(16, 16, delta=8).strength == 0.5
    with pytest.raises(MethodError, match="delta or strength"):
        DCTQIM(16, 16, delta=8, strength=2)


def test_lsb_refuses_more_bits_than_capacity_and_bad_max_repeat():
    assert LSB(3 * 8 * 8, 8).repeat == 1
    with pytest.raises(MethodError, match="192 least significant bits"):
        LSB(3 * 8 * 8 + 1, 8)
    with pytest.raises(MethodError, match="max_repeat"):
        LSB(16, 16, max_repeat=0)
    assert LSB(16, 16).repeat == 48  # all capacity by default
    capped = LSB(16, 16, max_repeat=4)
    assert capped.repeat == 4 and capped.config["max_repeat"] == 4
    images, bits = smooth_images(4, 16), random_bits(4, 16)
    stamped = capped.embed(images, bits)
    assert bit_accuracy(capped.decode(stamped), bits) == 1.0
    assert (stamped != images).sum() <= 4 * 16 * 4  # only the 64 used positions per image change


def test_dct_qim_needs_a_multiple_of_8_and_enough_coefficients():
    with pytest.raises(MethodError, match="multiple of 8.*use e.g. 16 or 24"):
        DCTQIM(16, 20)
    with pytest.raises(MethodError, match="multiple of 8"):
        make_method("dct_qim", n_bits=16, resolution=12)
    assert len(band_positions()) == 22
    assert DCTQIM(22, 8).repeat == 1
    with pytest.raises(MethodError, match="22 mid-frequency"):
        DCTQIM(23, 8)
    for delta in (0, -1, float("nan"), 300, True):
        with pytest.raises(MethodError, match="delta"):
            DCTQIM(16, 16, delta=delta)


# -- the DCT against an independent reference ------------------------------------------------------


def test_dct_matrix_is_scipys_orthonormal_dct():
    reference = scipy.fft.dct(np.eye(8), type=2, norm="ortho", axis=0)  # column j = DCT of e_j
    d = dct_matrix(8)
    assert d.dtype == torch.float64
    np.testing.assert_allclose(d.numpy(), reference, atol=1e-12)
    np.testing.assert_allclose((d @ d.T).numpy(), np.eye(8), atol=1e-12)


def test_block_dct_matches_scipy_dctn_per_block():
    g = torch.Generator().manual_seed(0)
    y = torch.rand(2, 16, 24, generator=g, dtype=torch.float64) * 255
    c = block_dct(y)
    assert c.shape == (2, 6, 8, 8)
    for n in range(2):
        for b in range(6):
            row, col = divmod(b, 3)  # blocks in row-major order
            block = y[n, row * 8:(row + 1) * 8, col * 8:(col + 1) * 8].numpy()
            np.testing.assert_allclose(c[n, b].numpy(), scipy.fft.dctn(block, type=2, norm="ortho"), atol=1e-9)
    torch.testing.assert_close(block_idct(c, 16, 24), y, atol=1e-9, rtol=0)


# -- JPEG (PIL's libjpeg) --------------------------------------------------------------------------


@pytest.mark.parametrize(("n_bits", "resolution"), SIZES)
def test_jpeg_q90_wipes_lsb_but_not_dct_qim(n_bits, resolution):
    images = photo_images(32, resolution)
    bits = random_bits(32, n_bits)
    accuracy = {}
    for method_id in METHODS:
        m = make_method(method_id, n_bits=n_bits, resolution=resolution)
        accuracy[method_id] = bit_accuracy(m.decode(jpeg(m.embed(images, bits), 90)), bits)
    print(f"{n_bits} bits {resolution}px, JPEG q90 bit accuracy: "
          + ", ".join(f"{k} {v:.3f}" for k, v in accuracy.items()))
    assert accuracy["lsb"] < 0.8  # JPEG re-quantises every pixel: the LSBs are gone
    assert accuracy["dct_qim"] > accuracy["lsb"]
    assert accuracy["dct_qim"] >= 0.95  # measured 1.000 at delta 16 on these crops
