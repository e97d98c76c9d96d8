"""Random resized crop, translation, collage, salt-and-pepper, bilateral and the WAVES-style combinations
against independent references (PIL, scipy.ndimage, scikit-image statistics, a textbook bilateral). The
shared contract (shape, range, neutral, seeding, batch size) runs over them in test_image_attacks.py."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from PIL import Image
from scipy.stats import binom
from skimage.util import random_noise

from fpbench.attacks.image._checks import image_generator
from fpbench.attacks.image.blur import blur_sigma
from fpbench.attacks.image.collage import pink_texture
from fpbench.attacks.image.combined import DEGRADATION, GEOMETRIC_PHOTOMETRIC, Step, chain_values
from fpbench.attacks.image.random_geometry import ASPECT_RANGE, random_crop_box, random_shift
from fpbench.attacks.registry import get_attack
from fpbench.metrics import psnr
from fpbench.registry import UnknownIdError

NEW = ("random_resized_crop", "translation", "collage", "salt_pepper", "bilateral",
       "combo_geometric_photometric", "combo_degradation")
# binomial tails drawn this rarely count as failures: the statistical tests fail about once in 10^6 runs
TAIL = 1e-6


def attack(attack_id: str, images: torch.Tensor, value: float, seed: int = 0) -> torch.Tensor:
    return get_attack(attack_id)(images, value, seed=seed)


def bilateral_reference(image: np.ndarray, sigma_color: float, sigma_space: float, k: int) -> np.ndarray:
    """Tomasi-Manduchi bilateral filter of a CxHxW float64 image, written out: k x k window, reflect
    padding, Gaussian weights of the pixel offset and of the Euclidean colour distance to the centre."""
    pad = k // 2
    h, w = image.shape[1:]
    padded = np.pad(image, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")
    num, den = np.zeros_like(image), np.zeros((h, w))
    for dy in range(-pad, pad + 1):
        for dx in range(-pad, pad + 1):
            nb = padded[:, pad + dy:pad + dy + h, pad + dx:pad + dx + w]
            weight = math.exp(-(dy**2 + dx**2) / (2 * sigma_space**2)) \
                * np.exp(-((nb - image) ** 2).sum(0) / (2 * sigma_color**2))
            num += weight * nb
            den += weight
    return num / den


class TestRegistered:
    @pytest.mark.parametrize("attack_id", NEW)
    def test_version_one_and_neutral_first(self, attack_id):
        spec = get_attack(attack_id)
        assert spec.version == 1 and spec.grid[0] == spec.neutral

    @pytest.mark.parametrize("attack_id", NEW)
    def test_psnr_non_increasing_along_the_grid(self, images, attack_id):
        values = [float(psnr(attack(attack_id, images, v), images).clamp(max=200).mean())
                  for v in get_attack(attack_id).grid]
        assert all(b <= a + 1e-6 for a, b in pairwise(values)), values


class TestRandomResizedCrop:
    @pytest.mark.parametrize("kept_area", [0.9, 0.75, 0.5, 0.35, 0.1])
    def test_equals_pil_crop_and_resize_of_its_box(self, ref, images, kept_area):
        h, w = images.shape[-2:]
        want = []
        for i, im in enumerate(images):
            top, left, bh, bw = random_crop_box(image_generator(7, i), h, w, kept_area)

            def op(p, top=top, left=left, bh=bh, bw=bw):
                return p.crop((left, top, left + bw, top + bh)).resize((w, h), Image.BILINEAR)

            want.append(ref.pil_float_channels(im, op))
        got = attack("random_resized_crop", images, kept_area, seed=7)
        torch.testing.assert_close(got, torch.stack(want).clamp(0, 1), atol=1e-5, rtol=0)

    @pytest.mark.parametrize("kept_area", [0.9, 0.75, 0.5, 0.35])
    @pytest.mark.parametrize("h,w", [(32, 32), (48, 64)])
    def test_box_area_aspect_and_position(self, kept_area, h, w):
        aspects = []
        for i in range(200):
            top, left, bh, bw = random_crop_box(image_generator(0, i), h, w, kept_area)
            assert 0 <= top <= h - bh and 0 <= left <= w - bw
            # rounding each side moves the area by at most half a pixel row and column
            assert abs(bh * bw - kept_area * h * w) <= 0.5 * (bh + bw) + 0.25
            aspect = (bw / w) / (bh / h)
            assert ASPECT_RANGE[0] - 1.5 / min(bh, bw) <= aspect <= ASPECT_RANGE[1] + 1.5 / min(bh, bw)
            aspects.append(aspect)
        if kept_area <= 0.75:  # the full range is open: both sides of square are drawn
            assert min(aspects) < 0.85 and max(aspects) > 1.18

    def test_kept_area_one_is_the_whole_image(self):
        assert random_crop_box(image_generator(3, 0), 24, 20, 1.0) == (0, 0, 24, 20)


class TestTranslation:
    @pytest.mark.parametrize("shift", [0.05, 0.1, 0.2, 0.3, 1.0])
    def test_equals_scipy_shift_with_zero_fill(self, images, shift):
        h, w = images.shape[-2:]
        want = [ndi.shift(im.numpy(), (0, *random_shift(image_generator(2, i), h, w, shift)), order=0,
                          mode="constant", cval=0.0) for i, im in enumerate(images)]
        assert torch.equal(attack("translation", images, shift, seed=2), torch.from_numpy(np.stack(want)))

    @pytest.mark.parametrize("shift", [0.1, 0.3])
    def test_shift_length_and_directions(self, shift):
        h, w = 40, 32
        shifts = [random_shift(image_generator(0, i), h, w, shift) for i in range(400)]
        for dy, dx in shifts:  # a fraction `shift` of the side, up to rounding of each component
            assert math.hypot(dy / h, dx / w) == pytest.approx(shift, abs=math.hypot(0.5 / h, 0.5 / w))
        quadrants = {(dy > 0, dx > 0) for dy, dx in shifts if dy and dx}
        assert len(quadrants) == 4

    def test_uncovered_band_is_black(self):
        x = torch.full((8, 3, 20, 20), 0.5)
        out = attack("translation", x, 0.2)
        assert set(out.unique().tolist()) == {0.0, 0.5}
        assert torch.allclose((out == 0).float().mean(dim=(1, 2, 3)), 1 - (out == 0.5).float().mean(dim=(1, 2, 3)))


class TestCollage:
    @pytest.mark.parametrize("area", [0.1, 0.25, 0.5])
    def test_replaces_erasings_rectangle_only(self, area):
        """The replaced rectangle is the one `erasing` blanks at the same seed: the same size rule and draw."""
        x = torch.rand(6, 3, 20, 16) * 0.5 + 0.25  # no zeros: erasing's rectangle is where it put zeros
        box = (attack("erasing", x, area, seed=3) == 0).all(1, keepdim=True).expand_as(x)
        out = attack("collage", x, area, seed=3)
        assert torch.equal(out[~box], x[~box])
        assert (out[box] != x[box]).float().mean() > 0.99

    def test_donor_pool(self):
        x = torch.full((6, 3, 16, 16), 0.5)
        donors = torch.stack([torch.full((3, 8, 8), v) for v in (0.1, 0.2, 0.3)])  # resized to 16x16
        out = get_attack("collage")(x, 0.25, seed=1, donors=donors)
        chosen = []
        for o in out:
            patch = o[:, (o != 0.5).any(0)]
            assert patch.shape == (3, 64)  # an 8x8 rectangle: a quarter of the area
            assert float(patch.max() - patch.min()) < 1e-6  # one donor, unchanged but for the resize
            chosen.append(min((0.1, 0.2, 0.3), key=lambda v, p=patch: abs(float(p[0, 0]) - v)))
            assert float(patch[0, 0]) == pytest.approx(chosen[-1], abs=1e-6)
        assert len(set(chosen)) > 1  # donors are drawn per image

    def test_empty_donor_pool_rejected(self, images):
        with pytest.raises(ValueError, match="donors"):
            get_attack("collage")(images, 0.25, donors=torch.zeros(0, 3, 8, 8))

    def test_default_donor_has_a_natural_spectrum(self):
        """Natural photos have amplitude ~ 1/f, power ~ f^-2: the log-log slope of the texture's radially
        averaged power spectrum lies near -2 (white noise: 0)."""
        size = 64
        f = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij"))
        bins = np.geomspace(2 / size, 0.5, 12)
        slopes = []
        for i in range(8):
            tex = pink_texture(image_generator(0, i), size, size).numpy()
            power = (np.abs(np.fft.fft2(tex - tex.mean(axis=(1, 2), keepdims=True))) ** 2).mean(0)
            idx = np.digitize(f, bins)
            radial = [power[idx == k].mean() for k in range(1, len(bins))]
            centres = np.sqrt(bins[1:] * bins[:-1])
            slopes.append(np.polyfit(np.log(centres), np.log(radial), 1)[0])
        assert -2.5 < np.mean(slopes) < -1.5, slopes


class TestSaltPepper:
    @pytest.mark.parametrize("amount", [0.01, 0.05, 0.1, 0.2])
    def test_fraction_replaced_matches_skimage_statistics(self, amount):
        """Ours (per pixel) and skimage's random_noise(mode='s&p') (per element) both replace a
        Binomial(n, amount) count, half of it salt."""
        grey = torch.full((8, 3, 32, 32), 0.5)
        out = attack("salt_pepper", grey, amount, seed=5)
        replaced = (out != 0.5).all(1)
        n = replaced.numel()
        sk = random_noise(np.full((8 * 32, 32), 0.5), mode="s&p", amount=amount, rng=5)
        lo, hi = binom.interval(1 - TAIL, n, amount)
        assert lo <= int(replaced.sum()) <= hi
        assert lo <= int((sk != 0.5).sum()) <= hi
        salt = int((out[:, 0] == 1).sum())
        assert binom.interval(1 - TAIL, int(replaced.sum()), 0.5)[0] <= salt <= binom.interval(
            1 - TAIL, int(replaced.sum()), 0.5)[1]

    def test_whole_pixels_turn_black_or_white(self, images):
        out = attack("salt_pepper", images, 0.2)
        values = out.permute(0, 2, 3, 1)[(out != images).any(1)]  # N x 3: the changed pixels
        assert len(values) > 0 and ((values == 0).all(1) | (values == 1).all(1)).all()

    def test_exactly_reproducible_per_seed(self, images):
        assert torch.equal(attack("salt_pepper", images, 0.1, seed=9), attack("salt_pepper", images, 0.1, seed=9))

    def test_replaced_pixels_grow_with_amount(self, images):
        """One uniform draw per pixel: the pixels replaced at a smaller amount are replaced at a larger."""
        masks = [(attack("salt_pepper", images, a) != images).any(1) for a in (0.01, 0.05, 0.1, 0.2)]
        assert all((small <= large).all() for small, large in pairwise(masks))


class TestBilateral:
    @pytest.mark.parametrize("sigma_color", [0.05, 0.1, 0.2, 0.4, 2.0])
    def test_equals_textbook_bilateral(self, images, sigma_color):
        # scikit-image's denoise_bilateral is no reference here: in 0.26 its spatial lookup table is built
        # on arange(-win//2, win//2 + 1) (6 taps for win 5, read as 5x5: off-centre), and it divides the
        # colour distance by the channel count.
        want = np.stack([bilateral_reference(im.double().numpy(), sigma_color, blur_sigma(5), 5)
                         for im in images])
        np.testing.assert_allclose(attack("bilateral", images, sigma_color).numpy(), want, atol=1e-5)

    def test_large_sigma_color_tends_to_gaussian_blur(self, images):
        want = ndi.gaussian_filter(images.double().numpy(), sigma=(0, 0, blur_sigma(5), blur_sigma(5)),
                                   radius=(0, 0, 2, 2), mode="mirror")
        # colour weights >= exp(-3 / (2 * 10^2)) = 0.985 over the window: at most a 1.5 % re-weighting
        np.testing.assert_allclose(attack("bilateral", images, 10.0).numpy(), want, atol=0.015)

    def test_keeps_a_step_edge_that_gaussian_blur_smears(self):
        x = torch.zeros(1, 3, 16, 16)
        x[..., 8:] = 1.0
        assert torch.allclose(attack("bilateral", x, 0.1), x, atol=1e-6)
        assert not torch.allclose(attack("gaussian_blur", x, 5), x, atol=0.1)

    def test_too_small_image_rejected(self):
        with pytest.raises(ValueError, match="too small"):
            attack("bilateral", torch.rand(1, 3, 2, 8), 0.1)


class TestCombinations:
    @pytest.mark.parametrize("strength", [0.1, 0.25, 0.5, 0.75, 1.0])
    def test_geometric_photometric_is_its_chain(self, images, strength):
        angle, kept, bright, contr = chain_values(GEOMETRIC_PHOTOMETRIC, strength)
        want = attack("rotation", images, angle, seed=3)
        want = attack("random_resized_crop", want, kept, seed=3)
        want = attack("contrast", attack("brightness", want, bright), contr)
        assert torch.equal(attack("combo_geometric_photometric", images, strength, seed=3), want)

    @pytest.mark.parametrize("strength", [0.1, 0.25, 0.5, 0.75, 1.0])
    def test_degradation_is_its_chain(self, images, strength):
        kernel, std, quality = chain_values(DEGRADATION, strength)
        want = attack("jpeg", attack("gaussian_noise", attack("gaussian_blur", images, kernel), std, seed=3), quality)
        assert torch.equal(attack("combo_degradation", images, strength, seed=3), want)

    def test_end_points(self):
        assert chain_values(GEOMETRIC_PHOTOMETRIC, 0.0) == (0.0, 1.0, 1.0, 1.0)
        assert chain_values(GEOMETRIC_PHOTOMETRIC, 1.0) == (30.0, 0.5, 1.5, 1.5)
        assert chain_values(DEGRADATION, 0.0) == (1, 0.0, 100)
        assert chain_values(DEGRADATION, 1.0) == (5, 0.05, 50)

    @pytest.mark.parametrize("strength,kernel", [(0.1, 1), (0.25, 3), (0.5, 3), (0.74, 3), (0.75, 5), (1.0, 5)])
    def test_blur_kernel_snaps_to_the_nearest_odd_size(self, strength, kernel):
        assert chain_values(DEGRADATION, strength)[0] == kernel

    def test_a_step_is_checked_when_defined(self):
        with pytest.raises(UnknownIdError, match="gaussian_blur"):
            Step("gausian_blur", 1, 5)
        with pytest.raises(ValueError, match="quality"):
            Step("jpeg", 100, 0)
