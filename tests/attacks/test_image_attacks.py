"""Image attacks against independent references (PIL, scipy), plus the shared contract."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from PIL import Image

from fpbench.attacks.image.blur import blur_sigma
from fpbench.attacks.image.combined import combo_params
from fpbench.attacks.registry import ATTACKS, AttackKind, get_attack
from fpbench.metrics import psnr
from fpbench.registry import UnknownIdError

IMAGE_IDS = sorted(i for i, s in ATTACKS.items() if s.kind is AttackKind.IMAGE)
# Colour ops are compared with PIL, which works on uint8: one grey level of rounding (contrast also
# rounds its mean grey to an integer level, at most another half level times |1 - factor|).
PIL_UINT8_ATOL = 1.0 / 255 + 1e-6


def attack(attack_id: str, images: torch.Tensor, value: float, seed: int = 0) -> torch.Tensor:
    return get_attack(attack_id)(images, value, seed=seed)


def mean_psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(psnr(a, b).clamp(max=200).mean())


class TestRegistryEntries:
    def test_all_expected_ids_registered(self):
        expected = {"gaussian_noise", "gaussian_blur", "jpeg", "center_crop", "resize", "rotation",
                    "brightness", "contrast", "saturation", "sharpness", "median_filter", "erasing",
                    "combo_crop_brightness_jpeg"}
        assert expected <= set(IMAGE_IDS)

    @pytest.mark.parametrize("attack_id", IMAGE_IDS)
    def test_entry_metadata(self, attack_id):
        spec = get_attack(attack_id)
        assert spec.version >= 1 and spec.unit and spec.category and spec.description
        if spec.neutral is not None:
            assert spec.grid[0] == spec.neutral, "the neutral value opens the grid (weakest first)"

    def test_unknown_id_suggests(self):
        with pytest.raises(UnknownIdError, match="Did you mean 'gaussian_noise'"):
            get_attack("gausian_noise")

    @pytest.mark.parametrize("attack_id,value", [("jpeg", 0), ("jpeg", 101), ("gaussian_noise", -0.1),
                                                 ("center_crop", 1.5), ("gaussian_blur", 2.5)])
    def test_value_outside_domain_rejected(self, images, attack_id, value):
        with pytest.raises(ValueError, match=attack_id):
            get_attack(attack_id)(images, value)


class TestContract:
    """Every registered image attack at every default grid value."""

    CASES = [(i, v) for i in IMAGE_IDS for v in ATTACKS.get(i).grid]

    @pytest.mark.parametrize("attack_id,value", CASES)
    def test_shape_dtype_range_and_input_untouched(self, images, attack_id, value):
        before = images.clone()
        out = attack(attack_id, images, value)
        assert out.shape == images.shape and out.dtype == images.dtype
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
        assert torch.equal(images, before), "attacks must not modify their input"

    @pytest.mark.parametrize("attack_id", [i for i in IMAGE_IDS if ATTACKS.get(i).neutral is not None])
    def test_neutral_is_identity(self, images, attack_id):
        spec = get_attack(attack_id)
        assert torch.equal(attack(attack_id, images, spec.neutral), images)

    @pytest.mark.parametrize("attack_id", IMAGE_IDS)
    def test_reproducible_from_seed(self, images, attack_id):
        value = get_attack(attack_id).grid[-1]
        assert torch.equal(attack(attack_id, images, value, seed=3), attack(attack_id, images, value, seed=3))

    @pytest.mark.parametrize("attack_id", IMAGE_IDS)
    def test_batch_size_independent(self, images, attack_id):
        value = get_attack(attack_id).grid[-2]
        full = attack(attack_id, images, value, seed=5)
        assert torch.allclose(attack(attack_id, images[:2], value, seed=5), full[:2], atol=1e-6)

    @pytest.mark.parametrize("attack_id", IMAGE_IDS)
    def test_empty_batch(self, attack_id):
        empty = torch.zeros(0, 3, 16, 16)
        assert attack(attack_id, empty, get_attack(attack_id).grid[-1]).shape == empty.shape


class TestInputChecks:
    BAD = {
        "3-D": (torch.rand(3, 16, 16), "4-D"),
        "1 channel": (torch.rand(2, 1, 16, 16), "3 channels"),
        "4 channels": (torch.rand(2, 4, 16, 16), "3 channels"),
        "above 1": (torch.rand(2, 3, 16, 16) + 1.0, r"\[0,1\]"),
        "negative": (torch.rand(2, 3, 16, 16) - 1.0, r"\[0,1\]"),
        "NaN": (torch.full((2, 3, 16, 16), math.nan), "NaN"),
        "uint8": (torch.zeros(2, 3, 16, 16, dtype=torch.uint8), "float"),
        "numpy": (np.zeros((2, 3, 16, 16), np.float32), "torch.Tensor"),
    }

    @pytest.mark.parametrize("attack_id", IMAGE_IDS)
    @pytest.mark.parametrize("case", list(BAD))
    def test_bad_input_raises(self, attack_id, case):
        bad, message = self.BAD[case]
        with pytest.raises(ValueError, match=message):
            attack(attack_id, bad, get_attack(attack_id).grid[-1])

    @pytest.mark.parametrize("attack_id", ["gaussian_blur", "median_filter"])
    @pytest.mark.parametrize("kernel_size", [2, 4])
    def test_even_kernel_rejected(self, images, attack_id, kernel_size):
        with pytest.raises(ValueError, match="odd"):
            attack(attack_id, images, kernel_size)

    @pytest.mark.parametrize("attack_id", ["gaussian_blur", "median_filter"])
    def test_kernel_larger_than_image_rejected(self, attack_id):
        with pytest.raises(ValueError, match="too large"):
            attack(attack_id, torch.rand(1, 3, 8, 8), 17)


class TestSeverityOrder:
    """PSNR against the input does not increase along the grid, where that is the attack's nature."""

    MONOTONE = ["gaussian_noise", "gaussian_blur", "jpeg", "center_crop", "resize", "median_filter",
                "erasing", "combo_crop_brightness_jpeg"]

    @pytest.mark.parametrize("attack_id", MONOTONE)
    def test_psnr_non_increasing(self, images, attack_id):
        values = [mean_psnr(attack(attack_id, images, v), images) for v in get_attack(attack_id).grid]
        assert all(b <= a + 1e-6 for a, b in pairwise(values)), values

    def test_rotation_up_to_45(self, images):
        values = [mean_psnr(attack("rotation", images, a), images) for a in (0, 5, 10, 30, 45)]
        assert values == sorted(values, reverse=True)

    @pytest.mark.parametrize("attack_id", ["brightness", "contrast", "saturation", "sharpness"])
    def test_colour_grid_ordered_by_distance_in_each_direction(self, images, attack_id):
        grid = get_attack(attack_id).grid
        assert [abs(math.log(f)) for f in grid] == sorted(abs(math.log(f)) for f in grid)
        for side in ([f for f in grid if f <= 1], [f for f in grid if f >= 1]):
            values = [mean_psnr(attack(attack_id, images, f), images) for f in side]
            assert all(b <= a + 1e-6 for a, b in pairwise(values)), (side, values)


class TestGaussianNoise:
    def test_std_matches_on_mid_grey(self):
        grey = torch.full((8, 3, 32, 32), 0.5)
        out = attack("gaussian_noise", grey, 0.05)
        assert float((out - grey).std()) == pytest.approx(0.05, rel=0.05)
        assert abs(float((out - grey).mean())) < 0.005

    def test_images_get_different_noise(self):
        grey = torch.full((2, 3, 16, 16), 0.5)
        out = attack("gaussian_noise", grey, 0.1)
        assert not torch.equal(out[0], out[1])

    def test_clamped(self):
        out = attack("gaussian_noise", torch.ones(2, 3, 16, 16), 0.5)
        assert float(out.max()) == 1.0 and float(out.min()) >= 0.0


class TestGaussianBlur:
    @pytest.mark.parametrize("kernel_size", [3, 5, 9, 13, 17])
    def test_matches_scipy_gaussian_filter(self, images, kernel_size):
        sigma = blur_sigma(kernel_size)
        want = ndi.gaussian_filter(images.double().numpy(), sigma=(0, 0, sigma, sigma),
                                   radius=(0, 0, kernel_size // 2, kernel_size // 2), mode="mirror")
        got = attack("gaussian_blur", images, kernel_size)
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5)

    def test_opencv_sigma_rule(self):
        assert blur_sigma(3) == pytest.approx(0.8) and blur_sigma(5) == pytest.approx(1.1)
        assert blur_sigma(17) == pytest.approx(2.9)

    def test_kernel_one_is_identity(self, images):
        assert torch.equal(attack("gaussian_blur", images, 1), images)


class TestJpeg:
    @pytest.mark.parametrize("quality", [100, 90, 75, 50, 30, 10, 1])
    def test_equals_pil_encode_decode(self, ref, images, quality):
        want = torch.stack([ref.pil_jpeg(im, quality) for im in images])
        assert torch.equal(attack("jpeg", images, quality), want)

    def test_off_grid_input_is_rounded_to_uint8_first(self, ref):
        x = torch.rand(2, 3, 16, 16)
        rounded = (x * 255).round() / 255
        assert torch.equal(attack("jpeg", x, 70), attack("jpeg", rounded, 70))

    def test_lossy_even_at_100(self, images):
        assert not torch.equal(attack("jpeg", images, 100), images)


class TestGeometry:
    @pytest.mark.parametrize("ratio", [0.9, 0.8, 0.7, 0.6, 0.5, 0.33])
    def test_center_crop_matches_pil(self, ref, images, ratio):
        h, w = images.shape[-2:]
        ch, cw = round(h * ratio), round(w * ratio)
        top, left = (h - ch) // 2, (w - cw) // 2

        def op(p):
            return p.crop((left, top, left + cw, top + ch)).resize((w, h), Image.BILINEAR)

        want = torch.stack([ref.pil_float_channels(im, op) for im in images])
        torch.testing.assert_close(attack("center_crop", images, ratio), want.clamp(0, 1), atol=1e-5, rtol=0)

    def test_paper_crop_is_half_the_side(self, ref):
        x = ref.random_images(1, 128, 128)
        want = ref.pil_float_channels(x[0], lambda p: p.crop((32, 32, 96, 96)).resize((128, 128), Image.BILINEAR))
        torch.testing.assert_close(attack("center_crop", x, 0.5)[0], want.clamp(0, 1), atol=1e-5, rtol=0)

    @pytest.mark.parametrize("scale", [0.75, 0.5, 0.32])
    def test_resize_matches_pil(self, ref, images, scale):
        h, w = images.shape[-2:]

        def op(p):
            return p.resize((round(w * scale), round(h * scale)), Image.BILINEAR).resize((w, h), Image.BILINEAR)

        want = torch.stack([ref.pil_float_channels(im, op) for im in images])
        torch.testing.assert_close(attack("resize", images, scale), want.clamp(0, 1), atol=1e-5, rtol=0)

    @pytest.mark.parametrize("angle", [5, 10, 30, 45, -20])
    def test_rotation_matches_pil_inside_the_source(self, ref, images, angle):
        def op(p):
            return p.rotate(angle, resample=Image.BILINEAR)

        want = torch.stack([ref.pil_float_channels(im, op) for im in images])
        got = attack("rotation", images, angle)
        # Compare where the sample lies fully inside the source (the two libraries treat the
        # half-pixel border band differently): where rotating an all-ones image gives exactly 1.
        inside = attack("rotation", torch.ones_like(images[:1]), angle) > 1 - 1e-6
        inside &= torch.stack([ref.pil_float_channels(torch.ones_like(images[0]), op)]) > 1 - 1e-6
        assert inside.float().mean() > 0.4
        torch.testing.assert_close(got[inside.expand_as(got)], want[inside.expand_as(want)], atol=1e-4, rtol=0)

    @pytest.mark.parametrize("angle,turns", [(90, 1), (-90, -1), (180, 2)])
    def test_quarter_turns_equal_rot90(self, ref, angle, turns):
        x = ref.random_images(2, 16, 16)
        torch.testing.assert_close(attack("rotation", x, angle), torch.rot90(x, turns, dims=(2, 3)),
                                   atol=1e-5, rtol=0)


class TestColour:
    @pytest.mark.parametrize("attack_id", ["brightness", "contrast", "saturation", "sharpness"])
    @pytest.mark.parametrize("factor", [0.0, 0.5, 0.8, 1.25, 1.5, 2.0])
    def test_matches_pil_image_enhance(self, ref, images, attack_id, factor):
        want = torch.stack([ref.pil_enhance(im, attack_id, factor) for im in images])
        torch.testing.assert_close(attack(attack_id, images, factor), want, atol=PIL_UINT8_ATOL, rtol=0)


class TestMedianFilter:
    @pytest.mark.parametrize("kernel_size", [3, 5, 9])
    def test_matches_scipy(self, images, kernel_size):
        want = ndi.median_filter(images.numpy(), size=(1, 1, kernel_size, kernel_size), mode="mirror")
        assert torch.equal(attack("median_filter", images, kernel_size), torch.from_numpy(want))


class TestErasing:
    @pytest.mark.parametrize("ratio", [0.1, 0.25, 0.5])
    def test_one_black_rectangle_of_the_right_area(self, ratio):
        x = torch.rand(6, 3, 20, 20) * 0.5 + 0.25  # no zeros in the input
        out = attack("erasing", x, ratio, seed=2)
        for i in range(len(x)):
            erased = (out[i] == 0).all(0)
            rows, cols = erased.any(1).nonzero(), erased.any(0).nonzero()
            eh, ew = len(rows), len(cols)
            assert (eh, ew) == (round(20 * math.sqrt(ratio)),) * 2
            assert erased[int(rows[0]):int(rows[0]) + eh, int(cols[0]):int(cols[0]) + ew].all()
            assert torch.equal(out[i][:, ~erased], x[i][:, ~erased])

    def test_positions_vary_across_images(self):
        out = attack("erasing", torch.full((8, 3, 20, 20), 0.5), 0.1)
        assert len({tuple((out[i] == 0).all(0).nonzero()[0].tolist()) for i in range(8)}) > 1


class TestCombined:
    def test_endpoints(self):
        assert combo_params(0.0) == (1.0, 1.0, 100)
        assert combo_params(1.0) == (0.5, 1.5, 80)

    @pytest.mark.parametrize("strength", [0.5, 1.0])
    def test_is_the_chain_of_single_attacks(self, images, strength):
        ratio, factor, quality = combo_params(strength)
        want = attack("jpeg", attack("brightness", attack("center_crop", images, ratio), factor), quality)
        assert torch.equal(attack("combo_crop_brightness_jpeg", images, strength), want)


class TestDifferentiability:
    @pytest.mark.parametrize("attack_id", [i for i in IMAGE_IDS if ATTACKS.get(i).differentiable])
    def test_gradient_reaches_the_input(self, images, attack_id):
        x = images.clone().requires_grad_(True)
        attack(attack_id, x, get_attack(attack_id).grid[-1]).sum().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0

    @pytest.mark.parametrize("attack_id", ["jpeg", "combo_crop_brightness_jpeg"])
    def test_real_codec_is_marked_non_differentiable(self, attack_id):
        assert not get_attack(attack_id).differentiable
