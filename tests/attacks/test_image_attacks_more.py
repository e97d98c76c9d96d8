"""Flip, perspective, hue, gamma, text overlay and WebP against independent references (PIL, colorsys,
scikit-image). The shared contract (shape, range, neutral, seeding, batch size) runs over them in
test_image_attacks.py."""

from __future__ import annotations

import colorsys
import io
import math
from itertools import pairwise

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageOps, features
from skimage.exposure import adjust_gamma

from fpbench.attacks.image.overlay import default_font, text_alphas, text_layout
from fpbench.attacks.image.perspective import image_corners, perspective_corners, warp_to_corners
from fpbench.attacks.registry import get_attack


def attack(attack_id: str, images: torch.Tensor, value: float, seed: int = 0) -> torch.Tensor:
    return get_attack(attack_id)(images, value, seed=seed)


def pil_perspective_coeffs(out_points: np.ndarray, in_points: np.ndarray) -> list[float]:
    """PIL's PERSPECTIVE data (a..h) mapping each output point to its input point:
    ``u = (a x + b y + c) / (g x + h y + 1)``, ``v = (d x + e y + f) / (g x + h y + 1)``."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(out_points, in_points, strict=True):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    return np.linalg.solve(np.array(rows, dtype=float), np.array(rhs, dtype=float)).tolist()


def pil_codec(image: torch.Tensor, fmt: str, quality: int, ref) -> torch.Tensor:
    buf = io.BytesIO()
    ref.to_pil(image).save(buf, format=fmt, quality=quality)
    buf.seek(0)
    return ref.from_pil(Image.open(buf))


class TestHorizontalFlip:
    def test_matches_pil_mirror(self, ref, images):
        want = torch.stack([ref.from_pil(ImageOps.mirror(ref.to_pil(im))) for im in images])
        assert torch.equal(attack("horizontal_flip", images, 1), want)

    def test_twice_is_identity(self, images):
        assert torch.equal(attack("horizontal_flip", attack("horizontal_flip", images, 1), 1), images)

    def test_only_zero_or_one(self, images):
        with pytest.raises(ValueError, match="horizontal_flip"):
            attack("horizontal_flip", images, 2)


class TestPerspective:
    # Inside the source the two agree to float32 coordinate arithmetic: measured at most 5.1e-6 on
    # 64x64 images (1.4e-6 on 24x20) over distortions 0.05-0.2; the error grows with the image side
    # (coordinates ~ side * 6e-8), hence 4x headroom.
    ATOL = 2e-5

    @pytest.mark.parametrize("size", [(24, 20), (64, 64)])
    @pytest.mark.parametrize("distortion", [0.05, 0.1, 0.2])
    def test_matches_pil_perspective_transform_inside_the_source(self, ref, size, distortion):
        h, w = size
        x = ref.random_images(3, h, w, seed=2)
        corners = torch.stack([perspective_corners(h, w, distortion, 7, i) for i in range(3)])
        got = warp_to_corners(x, corners)
        ones = torch.ones(3, h, w)
        for i in range(3):
            # PIL puts pixel centres at +0.5 (kornia at integers); it asks, per output pixel, where to
            # sample the input: the inverse of the corner correspondence.
            coeffs = pil_perspective_coeffs((corners[i] + 0.5).numpy(), (image_corners(h, w) + 0.5).numpy())

            def op(p, coeffs=coeffs):
                return p.transform((w, h), Image.PERSPECTIVE, coeffs, Image.BILINEAR)

            want = ref.pil_float_channels(x[i], op)
            # PIL clamps to the edge pixel within the half-pixel border band and kornia blends with the
            # black fill, so compare where both warp an all-ones image to exactly 1.
            inside = (ref.pil_float_channels(ones, op) > 1 - 1e-6)
            inside &= warp_to_corners(ones[None], corners[i:i + 1])[0] > 1 - 1e-6
            assert inside.float().mean() > 0.6
            torch.testing.assert_close(got[i][inside], want[inside], atol=self.ATOL, rtol=0)

    def test_is_the_warp_to_the_drawn_corners(self, images):
        h, w = images.shape[-2:]
        corners = torch.stack([perspective_corners(h, w, 0.15, 9, i) for i in range(len(images))])
        assert torch.equal(attack("perspective", images, 0.15, seed=9), warp_to_corners(images, corners))

    @pytest.mark.parametrize("distortion", [0.05, 0.2, 0.24])
    def test_corner_offsets_within_the_distortion(self, distortion):
        h, w = 30, 40
        offsets = torch.stack([perspective_corners(h, w, distortion, 0, i) - image_corners(h, w)
                               for i in range(200)])
        limit = distortion * torch.tensor([w, h], dtype=torch.float64)
        assert (offsets.abs() <= limit).all()
        assert (offsets.abs().amax(dim=(0, 1)) > 0.9 * limit).all(), "offsets should span the range"
        assert (offsets < 0).any() and (offsets > 0).any(), "corners move both in and out"

    def test_corners_always_convex_at_the_domain_edge(self):
        h, w = 20, 20
        for i in range(500):
            p = perspective_corners(h, w, get_attack("perspective").domain[1], 1, i)
            edges = p.roll(-1, 0) - p
            cross = edges[:, 0] * edges.roll(-1, 0)[:, 1] - edges[:, 1] * edges.roll(-1, 0)[:, 0]
            assert (cross > 0).all(), p

    def test_identity_corners_give_the_input(self, images):
        h, w = images.shape[-2:]
        same = warp_to_corners(images, image_corners(h, w).expand(len(images), 4, 2))
        torch.testing.assert_close(same, images, atol=1e-5, rtol=0)

    def test_grid_grows_stronger(self, images):
        values = [float((attack("perspective", images, d, seed=1) - images).abs().mean())
                  for d in get_attack("perspective").grid]
        assert values == sorted(values), values


class TestHue:
    @pytest.mark.parametrize("shift", [0.05, 0.1, 0.25, 0.5, -0.3, 0.37])
    def test_matches_colorsys_per_pixel(self, images, shift):
        pixels = images.double().permute(0, 2, 3, 1).reshape(-1, 3).numpy()
        shifted = [colorsys.hsv_to_rgb((h + shift) % 1, s, v) for h, s, v in
                   (colorsys.rgb_to_hsv(*p) for p in pixels)]
        want = torch.tensor(shifted).reshape(*images.shape[:1], *images.shape[2:], 3).permute(0, 3, 1, 2)
        # float32 HSV arithmetic: measured at most 5.4e-7
        torch.testing.assert_close(attack("hue", images, shift).double(), want, atol=2e-6, rtol=0)

    @pytest.mark.parametrize("shift", [0.25, 0.5])
    def test_close_to_pil_hsv(self, ref, images, shift):
        """PIL's HSV mode stores H, S, V as uint8 (H in 256 steps; these shifts are whole steps): its
        round trip is a few grey levels off at saturated pixels (measured at most 7.5 levels, mean
        under 0.45), but a wrong direction or unit would be off by far more."""
        want = []
        for im in images:
            hsv = np.asarray(ref.to_pil(im).convert("HSV")).copy()
            hsv[..., 0] = (hsv[..., 0].astype(int) + round(shift * 256)) % 256
            want.append(ref.from_pil(Image.fromarray(hsv, mode="HSV").convert("RGB")))
        diff = (attack("hue", images, shift) - torch.stack(want)).abs()
        assert float(diff.max()) <= 10 / 255 and float(diff.mean()) <= 1 / 255

    def test_grey_unchanged_and_half_turn_is_its_own_inverse(self, images):
        grey = torch.linspace(0, 1, 16).view(1, 1, 4, 4).expand(2, 3, 4, 4).contiguous()
        torch.testing.assert_close(attack("hue", grey, 0.25), grey, atol=1e-6, rtol=0)
        torch.testing.assert_close(attack("hue", attack("hue", images, 0.5), 0.5), images, atol=1e-5, rtol=0)

    def test_plus_and_minus_half_agree(self, images):
        torch.testing.assert_close(attack("hue", images, 0.5), attack("hue", images, -0.5), atol=1e-5, rtol=0)

    def test_primary_red_turns_green_at_a_third(self):
        red = torch.zeros(1, 3, 2, 2)
        red[:, 0] = 1
        torch.testing.assert_close(attack("hue", red, 1 / 3), red.roll(1, dims=1), atol=1e-5, rtol=0)


class TestGamma:
    @pytest.mark.parametrize("value", [0.5, 0.67, 0.8, 1.25, 1.5, 2.0])
    def test_matches_skimage_adjust_gamma(self, images, value):
        want = torch.from_numpy(adjust_gamma(images.numpy(), value))
        torch.testing.assert_close(attack("gamma", images, value), want, atol=1e-6, rtol=0)

    @pytest.mark.parametrize("value", [0.5, 0.8, 1.5, 2.0])
    def test_matches_pil_point_lookup_table(self, ref, images, value):
        lut = [round(255 * (i / 255) ** value) for i in range(256)] * 3
        want = torch.stack([ref.from_pil(ref.to_pil(im).point(lut)) for im in images])
        # PIL's table holds the exact value rounded to a grey level: at most half a level apart
        torch.testing.assert_close(attack("gamma", images, value), want, atol=0.5 / 255 + 1e-6, rtol=0)

    def test_grid_ordered_by_distance_in_each_direction(self, images):
        grid = get_attack("gamma").grid
        assert [abs(math.log(g)) for g in grid] == sorted(abs(math.log(g)) for g in grid)
        for side in ([g for g in grid if g <= 1], [g for g in grid if g >= 1]):
            errors = [float((attack("gamma", images, g) - images).abs().mean()) for g in side]
            assert errors == sorted(errors), (side, errors)

    def test_finite_gradient_at_black(self):
        x = torch.tensor([0.0, 0.25, 1.0]).view(1, 1, 1, 3).expand(1, 3, 1, 3).clone().requires_grad_(True)
        attack("gamma", x, 0.5).sum().backward()
        assert torch.isfinite(x.grad).all()
        torch.testing.assert_close(x.grad[0, 0, 0], torch.tensor([0.0, 1.0, 0.5]))


class TestOverlayText:
    # PIL composites the outline, then the glyphs, into uint8, rounding after each pass: at most one
    # grey level apart from the float composite (measured 0.75).
    ATOL = 1 / 255 + 1e-6

    @pytest.mark.parametrize("size", [(24, 20), (64, 64), (128, 96)])
    @pytest.mark.parametrize("text_height", [0.1, 0.2, 0.25, 0.5])
    def test_matches_pil_draw_text(self, ref, size, text_height):
        h, w = size
        x = ref.random_images(3, h, w)
        got = attack("overlay_text", x, text_height, seed=3)
        for i in range(3):
            layout = text_layout(h, w, text_height, 3, i)
            drawn = ref.to_pil(x[i])
            ImageDraw.Draw(drawn).text(layout.xy, layout.text, fill=(255, 255, 255),
                                       font=default_font(layout.font_size), stroke_width=layout.stroke_width,
                                       stroke_fill=(0, 0, 0))
            torch.testing.assert_close(got[i], ref.from_pil(drawn), atol=self.ATOL, rtol=0)

    @pytest.mark.parametrize("text_height", [0.05, 0.15, 0.25])
    def test_changes_pixels_only_under_the_text(self, images, text_height):
        h, w = images.shape[-2:]
        out = attack("overlay_text", images, text_height, seed=1)
        for i in range(len(images)):
            layout = text_layout(h, w, text_height, 1, i)
            mask = Image.new("L", (w, h), 0)  # the outlined text's antialiased coverage, drawn by PIL here
            ImageDraw.Draw(mask).text(layout.xy, layout.text, fill=255, font=default_font(layout.font_size),
                                      stroke_width=layout.stroke_width, stroke_fill=255)
            outside = torch.from_numpy(np.asarray(mask) == 0)
            assert outside.float().mean() < 1, "the text should touch the image"
            assert torch.equal(out[i][:, outside], images[i][:, outside])

    def test_white_glyphs_and_black_outline(self):
        x = torch.full((1, 3, 64, 64), 0.5)
        out = attack("overlay_text", x, 0.25)
        outlined, glyphs = (torch.from_numpy(a) for a in text_alphas(text_layout(64, 64, 0.25, 0, 0), 64, 64))
        assert (out[0][:, glyphs == 1] == 1).all()
        assert (out[0][:, (outlined == 1) & (glyphs == 0)] == 0).all()

    def test_font_under_a_pixel_is_identity(self, images):
        assert torch.equal(attack("overlay_text", images, 0.01), images)

    def test_layout_is_seeded_and_the_text_fits(self):
        layouts = {text_layout(128, 128, 0.2, 0, i) for i in range(20)}
        assert len({lay.text for lay in layouts}) == 20 and len({lay.xy for lay in layouts}) > 10
        assert text_layout(128, 128, 0.2, 0, 3) == text_layout(128, 128, 0.2, 0, 3)
        for lay in layouts:
            left, top, right, bottom = default_font(lay.font_size).getbbox(lay.text, stroke_width=lay.stroke_width)
            assert 0 <= lay.xy[0] + left and lay.xy[0] + right <= 128
            assert 0 <= lay.xy[1] + top and lay.xy[1] + bottom <= 128

    def test_covers_more_along_the_grid(self):
        x = torch.full((8, 3, 128, 128), 0.5)
        covered = [float((attack("overlay_text", x, t) != x).any(1).float().mean())
                   for t in get_attack("overlay_text").grid]
        assert covered == sorted(covered) and covered[0] == 0 and covered[-1] > 0.1, covered


class TestWebp:
    @pytest.mark.parametrize("quality", [100, 90, 75, 50, 30, 10, 1])
    def test_equals_pil_encode_decode(self, ref, images, quality):
        want = torch.stack([pil_codec(im, "WEBP", quality, ref) for im in images])
        assert torch.equal(attack("webp", images, quality), want)

    def test_is_not_jpeg(self, images):
        assert not torch.equal(attack("webp", images, 50), attack("jpeg", images, 50))

    def test_lossy_even_at_100(self, images):
        assert not torch.equal(attack("webp", images, 100), images)

    def test_quality_lowers_psnr(self, ref):
        x = ref.random_images(4, 64, 64)
        errors = [float((attack("webp", x, q) - x).square().mean()) for q in get_attack("webp").grid]
        assert all(b >= a for a, b in pairwise(errors)), errors

    def test_pillow_without_webp_is_a_clear_error(self, images, monkeypatch):
        monkeypatch.setattr(features, "check", lambda name: name != "webp")
        with pytest.raises(RuntimeError, match="no WEBP support"):
            attack("webp", images, 50)

    def test_jpeg_still_equals_pil_after_the_shared_helper(self, ref, images):
        want = torch.stack([pil_codec(im, "JPEG", 70, ref) for im in images])
        assert torch.equal(attack("jpeg", images, 70), want)
