"""fpbench.data.folder: user image folders, checked against torchvision's PIL transforms (the authors'
preprocessing) on files written to tmp_path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

from fpbench.data.folder import DataWarning, ImageFolderError, load_folder, split_folder


def noise_image(w: int, h: int, seed: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8)
    img = Image.fromarray(coarse).resize((w, h), Image.Resampling.BILINEAR)
    return img.convert(mode)


def paper_reference(path, resolution: int) -> np.ndarray:
    tf = transforms.Compose([transforms.Resize(resolution, interpolation=InterpolationMode.BICUBIC),
                             transforms.CenterCrop(resolution)])
    with Image.open(path) as im:
        return np.asarray(tf(im.convert("RGB")))


def celeba_reference(path, resolution: int) -> np.ndarray:
    tf = transforms.Compose([transforms.CenterCrop(148),
                             transforms.Resize(resolution, interpolation=InterpolationMode.BICUBIC)])
    with Image.open(path) as im:
        return np.asarray(tf(im.convert("RGB")))


def as_hwc(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).numpy()


@pytest.fixture
def mixed_folder(tmp_path):
    """PNG, JPEG and lossless WebP files, one nested two levels deep, plus a non-image file."""
    root = tmp_path / "imgs"
    (root / "sub" / "deeper").mkdir(parents=True)
    noise_image(48, 32, 0).save(root / "a.png")
    noise_image(32, 64, 1).save(root / "b.jpg", quality=90)
    noise_image(40, 40, 2).save(root / "sub" / "c.webp", lossless=True)
    noise_image(64, 48, 3).save(root / "sub" / "deeper" / "d.JPEG", quality=95)
    (root / "notes.txt").write_text("not an image")
    return root


class TestLoadFolder:
    def test_flat_and_nested_formats_match_reference(self, mixed_folder):
        out = load_folder(mixed_folder, 16)
        files = ["a.png", "b.jpg", "sub/c.webp", "sub/deeper/d.JPEG"]  # sorted by path
        assert out.shape == (4, 3, 16, 16) and out.dtype == torch.uint8
        for img, name in zip(out, files, strict=True):
            np.testing.assert_array_equal(as_hwc(img), paper_reference(mixed_folder / name, 16))

    def test_deterministic_and_limit(self, mixed_folder):
        full = load_folder(mixed_folder, 16)
        assert torch.equal(full, load_folder(mixed_folder, 16))
        assert torch.equal(load_folder(mixed_folder, 16, limit=2), full[:2])

    @pytest.mark.parametrize(("mode", "ext"), [("L", "png"), ("P", "png"), ("RGBA", "png"), ("LA", "png"),
                                               ("RGBA", "webp"), ("L", "jpg")])
    def test_non_rgb_files_become_three_channels(self, tmp_path, mode, ext):
        img = noise_image(32, 32, 4, mode)
        if mode in ("RGBA", "LA"):  # transparent pixels keep their colour: alpha is dropped, not composited
            img.putalpha(Image.fromarray(np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1))))
        path = tmp_path / f"x.{ext}"
        img.save(path, **({"lossless": True} if ext == "webp" else {}))
        out = load_folder(tmp_path, 32)
        assert out.shape == (1, 3, 32, 32)
        with Image.open(path) as im:
            want = np.asarray(im.convert("RGB"))
        np.testing.assert_array_equal(as_hwc(out[0]), want)
        if mode in ("L", "LA"):
            assert torch.equal(out[0, 0], out[0, 1]) and torch.equal(out[0, 1], out[0, 2])

    @pytest.mark.parametrize("size", [(178, 218), (200, 150), (148, 148)])
    def test_celeba_mode_matches_torchvision(self, tmp_path, size):
        noise_image(*size, seed=5).save(tmp_path / "face.png")
        out = load_folder(tmp_path, 32, mode="celeba")
        np.testing.assert_array_equal(as_hwc(out[0]), celeba_reference(tmp_path / "face.png", 32))

    def test_celeba_mode_needs_148_pixels(self, tmp_path):
        noise_image(200, 140, 6).save(tmp_path / "small.png")
        with pytest.raises(ImageFolderError, match="200x140"):
            load_folder(tmp_path, 32, mode="celeba")

    def test_small_image_error_names_size(self, tmp_path):
        noise_image(40, 24, 7).save(tmp_path / "tiny.png")
        with pytest.raises(ImageFolderError) as info:
            load_folder(tmp_path, 32)
        assert "40x24" in str(info.value) and "32" in str(info.value) and "tiny.png" in str(info.value)

    def test_allow_upscale(self, tmp_path):
        noise_image(40, 24, 7).save(tmp_path / "tiny.png")
        out = load_folder(tmp_path, 32, allow_upscale=True)
        assert out.shape == (1, 3, 32, 32)
        np.testing.assert_array_equal(as_hwc(out[0]), paper_reference(tmp_path / "tiny.png", 32))


class TestBadFolders:
    @pytest.fixture
    def with_corrupt(self, tmp_path):
        noise_image(32, 32, 0).save(tmp_path / "a.png")
        noise_image(32, 32, 1).save(tmp_path / "c.jpg")
        (tmp_path / "b.png").write_bytes(b"definitely not a png")
        full = tmp_path / "full.png"
        noise_image(64, 64, 2).save(full)
        (tmp_path / "d_truncated.png").write_bytes(full.read_bytes()[:200])
        full.unlink()
        return tmp_path

    def test_corrupt_file_raises_naming_it(self, with_corrupt):
        with pytest.raises(ImageFolderError, match=r"cannot read .*b\.png"):
            load_folder(with_corrupt, 16)

    def test_corrupt_files_skipped_with_counted_warning(self, with_corrupt):
        with pytest.warns(DataWarning, match=r"skipped 2 unreadable image\(s\) of 4") as record:
            out = load_folder(with_corrupt, 16, on_error="skip")
        assert len(record) == 1
        assert out.shape == (2, 3, 16, 16)
        np.testing.assert_array_equal(as_hwc(out[0]), paper_reference(with_corrupt / "a.png", 16))

    def test_all_corrupt_with_skip(self, tmp_path):
        (tmp_path / "x.png").write_bytes(b"junk")
        with pytest.warns(DataWarning, match="skipped 1"), pytest.raises(ImageFolderError, match="none of the 1"):
            load_folder(tmp_path, 16, on_error="skip")

    def test_missing_folder(self, tmp_path):
        with pytest.raises(ImageFolderError, match="does not exist"):
            load_folder(tmp_path / "nope", 16)

    def test_file_instead_of_folder(self, tmp_path):
        noise_image(32, 32, 0).save(tmp_path / "a.png")
        with pytest.raises(ImageFolderError, match="is a file"):
            load_folder(tmp_path / "a.png", 16)

    @pytest.mark.parametrize("contents", [[], ["readme.txt", "data.csv"]])
    def test_no_images(self, tmp_path, contents):
        for name in contents:
            (tmp_path / name).write_text("x")
        with pytest.raises(ImageFolderError, match="no images found"):
            load_folder(tmp_path, 16)

    @pytest.mark.parametrize(("kwargs", "match"), [({"mode": "celebA"}, "mode must be one of"),
                                                   ({"on_error": "ignore"}, "on_error must be")])
    def test_bad_options(self, tmp_path, kwargs, match):
        noise_image(32, 32, 0).save(tmp_path / "a.png")
        with pytest.raises(ValueError, match=match):
            load_folder(tmp_path, 16, **kwargs)


class TestSplitFolder:
    @staticmethod
    def numbered(n: int) -> torch.Tensor:
        return torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 4, 4).contiguous()

    @pytest.mark.parametrize(("n", "fraction", "n_test"), [(10, 0.2, 2), (7, 0.5, 4), (3, 0.1, 1)])
    def test_disjoint_cover_and_sizes(self, n, fraction, n_test):
        train, test = split_folder(self.numbered(n), fraction, seed=0)
        ids_train, ids_test = set(train[:, 0, 0, 0].tolist()), set(test[:, 0, 0, 0].tolist())
        assert len(test) == n_test and len(train) == n - n_test
        assert not ids_train & ids_test and ids_train | ids_test == set(range(n))

    def test_deterministic_by_seed(self):
        images = self.numbered(20)
        a, b = split_folder(images, 0.25, seed=1), split_folder(images, 0.25, seed=1)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert not torch.equal(split_folder(images, 0.25, seed=2)[1], a[1])

    @pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
    def test_bad_fraction(self, fraction):
        with pytest.raises(ValueError, match="test_fraction"):
            split_folder(self.numbered(10), fraction, seed=0)

    def test_too_few_images(self):
        with pytest.raises(ImageFolderError, match="too few to split"):
            split_folder(self.numbered(1), 0.5, seed=0)
