"""fpbench.metrics: the metric vocabulary and PSNR/SSIM against scikit-image as the independent reference."""

from __future__ import annotations

import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from fpbench.metrics import METRICS, psnr, ssim
from fpbench.registry import UnknownIdError


def image_pair(shape: tuple[int, ...], noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(shape[0], 3, shape[2] // 4 + 1, shape[3] // 4 + 1, generator=g)
    x = torch.nn.functional.interpolate(coarse, size=shape[2:], mode="bilinear", align_corners=False)
    y = (x + noise * torch.randn(x.shape, generator=g)).clamp(0, 1)
    return x, y


class TestMetricVocabulary:
    def test_every_metric_declares_direction_and_unit(self):
        assert len(METRICS) > 0
        for metric_id, spec in METRICS.items():
            assert spec.id == metric_id
            assert isinstance(spec.higher_is_better, bool)
            assert spec.unit and spec.description
            assert spec.arrow == ("↑" if spec.higher_is_better else "↓")

    @pytest.mark.parametrize(("metric", "higher"), [("bit_accuracy", True), ("p_value", False), ("psnr", True),
                                                     ("ssim", True), ("fid", False),
                                                     ("false_positive_rate", False)])
    def test_known_directions(self, metric, higher):
        assert METRICS.get(metric).higher_is_better is higher

    def test_typo_suggests(self):
        with pytest.raises(UnknownIdError, match="Did you mean 'bit_accuracy'"):
            METRICS.get("bit_acuracy")


class TestPSNR:
    @pytest.mark.parametrize("noise", [0.01, 0.05, 0.2])
    @pytest.mark.parametrize("shape", [(3, 3, 16, 16), (2, 3, 24, 40)])
    def test_matches_skimage(self, shape, noise):
        x, y = image_pair(shape, noise, seed=int(noise * 100))
        got = psnr(x, y)
        assert got.shape == (shape[0],)
        for i in range(shape[0]):
            want = peak_signal_noise_ratio(x[i].double().numpy(), y[i].double().numpy(), data_range=1.0)
            assert got[i].item() == pytest.approx(want, rel=1e-5)

    def test_data_range(self):
        x, y = image_pair((2, 3, 16, 16), 0.05, seed=1)
        want = peak_signal_noise_ratio((255 * x[0]).double().numpy(), (255 * y[0]).double().numpy(),
                                       data_range=255.0)
        assert psnr(255 * x, 255 * y, data_range=255.0)[0].item() == pytest.approx(want, rel=1e-5)

    def test_identical_images_are_infinite(self):
        x, _ = image_pair((2, 3, 16, 16), 0.0, seed=2)
        assert torch.isinf(psnr(x, x)).all()


class TestSSIM:
    @pytest.mark.parametrize("noise", [0.0, 0.02, 0.1, 0.4])
    @pytest.mark.parametrize("shape", [(2, 3, 16, 16), (1, 3, 32, 32), (2, 3, 20, 36)])
    def test_matches_skimage(self, shape, noise):
        x, y = image_pair(shape, noise, seed=3)
        got = ssim(x, y)
        assert got.shape == (shape[0],)
        for i in range(shape[0]):
            want = structural_similarity(x[i].double().numpy(), y[i].double().numpy(), channel_axis=0,
                                         gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                         data_range=1.0)
            assert got[i].item() == pytest.approx(want, abs=1e-5)

    def test_unrelated_images_score_low(self):
        x, _ = image_pair((1, 3, 32, 32), 0.0, seed=4)
        y, _ = image_pair((1, 3, 32, 32), 0.0, seed=5)
        assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)
        assert ssim(x, y).item() < 0.5

    def test_shape_mismatch_raises(self):
        x, y = image_pair((1, 3, 16, 16), 0.1, seed=6)
        with pytest.raises(ValueError, match="one shape"):
            ssim(x, y[..., :15])
        with pytest.raises(ValueError, match="BxCxHxW"):
            ssim(x[0], y[0])
