import hashlib
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import linalg
from torch import nn

import fpbench.fid as fid
from fpbench.registry import UnknownIdError


def _smooth_images(n: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Images with natural-image-like low-frequency structure (upsampled coarse noise)."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, size // 4, size // 4, generator=gen)
    return F.interpolate(coarse, size=size, mode="bilinear", align_corners=False).clamp(0, 1)


def _reference_frechet(fa: np.ndarray, fb: np.ndarray) -> float:
    mu_a, mu_b = fa.mean(0), fb.mean(0)
    sa, sb = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    covmean = linalg.sqrtm(sa @ sb).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sa) + np.trace(sb) - 2 * np.trace(covmean))


@pytest.fixture
def no_inception(monkeypatch, tmp_path):
    """An empty cache root: the weights path fpbench trusts holds no file."""
    monkeypatch.setenv("FPBENCH_CACHE_DIR", str(tmp_path))
    return tmp_path / "weights" / fid.INCEPTION_FILENAME


class TestFrechetDistance:
    def test_matches_scipy_reference(self):
        rng = np.random.RandomState(0)
        fa = rng.standard_normal((400, 12))
        fb = rng.standard_normal((300, 12)) * 1.3 + 0.2
        assert fid.fid_from_features(fa, fb) == pytest.approx(_reference_frechet(fa, fb), rel=1e-6)

    def test_compute_fid_matches_reference_on_same_features(self):
        a, b = _smooth_images(300, seed=1), _smooth_images(300, seed=2).pow(1.5)
        value, fx_id = fid.compute_fid(a, b, "random-conv-v1")
        fx = fid.RandomConvV1()
        assert fx_id == "random-conv-v1"
        assert value == pytest.approx(_reference_frechet(fx.features(a), fx.features(b)), rel=1e-5)

    def test_self_distance_is_zero_and_grows_with_noise(self):
        x = _smooth_images(300)
        gen = torch.Generator().manual_seed(5)
        noise = torch.randn(x.shape, generator=gen)
        values = [fid.compute_fid(x, (x + std * noise).clamp(0, 1), "random-conv-v1")[0]
                  for std in (0.0, 0.03, 0.15)]
        assert abs(values[0]) < 1e-6
        assert 0 < values[1] < values[2]

    def test_grows_with_blur(self):
        x = _smooth_images(300, size=32)
        fx = fid.RandomConvV1()
        base = fx.features(x)
        mild = fid.fid_from_features(base, fx.features(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)))
        strong = fid.fid_from_features(base, fx.features(F.avg_pool2d(x, 7, 1, 3, count_include_pad=False)))
        assert 0 < mild < strong

    @pytest.mark.parametrize("a,b,match", [
        (torch.rand(4, 3, 16, 16), torch.rand(4, 3, 32, 32), "one size"),
        (torch.rand(4, 3, 16, 16) * 2, torch.rand(4, 3, 16, 16), r"\[0, 1\]"),
        (torch.rand(1, 3, 16, 16), torch.rand(4, 3, 16, 16), "at least 2"),
        (torch.rand(4, 16, 16), torch.rand(4, 3, 16, 16), "N x 3"),
    ])
    def test_rejects_bad_inputs(self, a, b, match):
        with pytest.raises(ValueError, match=match):
            fid.compute_fid(a, b, "random-conv-v1")


class TestRandomConvV1:
    def test_deterministic_across_instances_and_batch_sizes(self):
        x = _smooth_images(20)
        f1 = fid.RandomConvV1(batch_size=7).features(x)
        f2 = fid.RandomConvV1(batch_size=20).features(x)
        assert f1.shape == (20, 240) and f1.dtype == np.float64
        np.testing.assert_allclose(f1, f2, rtol=0, atol=1e-12)

    def test_definition_pinned(self):
        # golden values: a change here means a changed extractor, which needs a new id
        fx = fid.RandomConvV1()
        np.testing.assert_allclose(fx.weights[0].flatten()[:3].numpy(), [-0.3454, -0.3256, -0.4401], atol=1e-4)
        x = torch.full((1, 3, 32, 32), 0.5)
        x[..., ::2, :] = 0.25
        f = fx.features(x)
        np.testing.assert_allclose(f[0, :4], [0.18291411, 0.17934745, 0.06023946, 0.54791551], rtol=1e-6)
        assert f.sum() == pytest.approx(35.77190861079259, rel=1e-6)

    def test_quantises_like_png(self):
        x = _smooth_images(4)
        fx = fid.RandomConvV1()
        np.testing.assert_array_equal(fx.features(x), fx.features((x * 255).round() / 255))


class _FakeInceptionLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(48, 2048))

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        return self.layers(x)


class TestExtractorChoice:
    def test_inventory(self):
        assert sorted(fid.FEATURE_EXTRACTORS.ids()) == ["inception", "random-conv-v1"]

    def test_auto_falls_back_offline_and_says_so(self, no_inception):
        x = _smooth_images(300)
        assert fid.resolve_extractor("auto") == "random-conv-v1"
        assert fid.compute_fid(x, x)[1] == "random-conv-v1"

    def test_inception_without_weights_is_a_clear_error(self, no_inception):
        with pytest.raises(fid.InceptionWeightsMissing, match="--allow-download") as info:
            fid.compute_fid(_smooth_images(4), _smooth_images(4), "inception")
        assert str(no_inception) in str(info.value)

    def test_unknown_extractor(self):
        with pytest.raises(UnknownIdError, match="Did you mean"):
            fid.resolve_extractor("random-conv-v2")

    def test_weights_file_keeps_clean_fid_s_name(self):
        assert fid.inception_weights_path().name == "inception-2015-12-05.pt"

    def test_inception_path_with_weights_present(self, no_inception, monkeypatch):
        # a stand-in TorchScript file with clean-fid's interface: checks the wiring (lookup, checksum,
        # clean resize to 299, no download), not Inception itself; the expected digest is the stand-in's
        no_inception.parent.mkdir(parents=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated in torch 2.14
            torch.jit.script(_FakeInceptionLayers()).save(str(no_inception))
        monkeypatch.setattr(fid, "INCEPTION_SHA256", hashlib.sha256(no_inception.read_bytes()).hexdigest())
        assert fid.resolve_extractor("auto") == "inception"
        x = _smooth_images(3)
        feats, fx_id = fid.extract_features(x, "auto")
        assert fx_id == "inception" and feats.shape == (3, 2048)
        # (no FID here: scipy's sqrtm of a 2048x2048 matrix takes a minute on a shared CPU)
