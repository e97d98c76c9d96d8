"""Calibration of the fingerprint's strength to a target PSNR, checked with scikit-image's PSNR."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from fpbench.fingerprint.calibration import calibrate_strength
from fpbench.fingerprint.checkpoint import FingerprintModels, load_models, save_models
from fpbench.fingerprint.embedding import embed, random_fingerprint
from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder, initialise


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    enc = FingerprintEncoder(16, 16, "residual")
    initialise(enc)
    return enc.eval()


@pytest.fixture(scope="module")
def photos():
    gen = torch.Generator().manual_seed(1)
    smooth = torch.nn.functional.avg_pool2d(torch.rand(40, 3, 20, 20, generator=gen), 5, 1)
    return (smooth * 200 + 20).round().to(torch.uint8)


def mean_psnr(stamped: torch.Tensor, photos: torch.Tensor) -> float:
    return float(np.mean([peak_signal_noise_ratio(p.numpy(), s.numpy(), data_range=255)
                          for p, s in zip(photos, stamped, strict=True)]))


@pytest.mark.parametrize("target", [28.0, 34.0, 40.0])
def test_stamped_images_land_at_the_target(encoder, photos, target):
    fp = random_fingerprint(16, 3)
    calib = calibrate_strength(encoder, photos[:20], target, fingerprint=fp)
    assert calib.psnr_after == pytest.approx(target, abs=0.05)
    assert encoder.strength == 1.0  # calibration leaves the encoder as it was
    held_out = mean_psnr(embed(encoder, photos[20:], fp, strength=calib.strength), photos[20:])
    assert held_out == pytest.approx(target, abs=0.5)  # other images of the same kind


def test_an_unreachable_target_is_refused(photos):
    still = FingerprintEncoder(16, 16, "residual")
    torch.nn.init.zeros_(still.to_rgb.weight)
    torch.nn.init.zeros_(still.to_rgb.bias)  # changes nothing: no strength reaches any PSNR
    with pytest.raises(ValueError, match="raise target_psnr"):
        calibrate_strength(still, photos, 30.0, fingerprint=random_fingerprint(16, 0))
    with pytest.raises(ValueError, match="between 10 and 80"):
        calibrate_strength(still, photos, 5.0)


def test_the_strength_survives_a_checkpoint(encoder, tmp_path):
    encoder.strength = 0.61
    try:
        path = save_models(FingerprintModels(encoder, FingerprintDecoder(16, 16)), tmp_path / "m.safetensors")
        assert load_models(path).encoder.strength == 0.61
    finally:
        encoder.strength = 1.0


@pytest.mark.parametrize("target", [5.0, 120.0, "32", True])
def test_a_bad_target_is_refused_when_the_config_is_made(target):
    from fpbench.fingerprint.training import FingerprintTrainConfig

    with pytest.raises(ValueError, match="target_psnr"):
        FingerprintTrainConfig(target_psnr=target)
