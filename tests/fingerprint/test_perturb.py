"""The immunised fingerprint's perturbation layer and training switch (fpbench.fingerprint.perturb)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from scipy.ndimage import gaussian_filter

from fpbench.fingerprint.perturb import KINDS, OPS, perturb
from fpbench.fingerprint.training import FingerprintTrainConfig, train_fingerprint


def _images(n=6, r=16, seed=0):
    return torch.rand(n, 3, r, r, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kind", KINDS)
def test_each_perturbation_is_differentiable_and_stays_in_range(kind):
    x = _images().requires_grad_(True)
    y = perturb(x, (kind,), torch.Generator().manual_seed(1))
    assert y.shape == x.shape and float(y.detach().min()) >= 0 and float(y.detach().max()) <= 1
    y.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_reproducible_from_the_generator_and_never_the_global_rng():
    x = _images()
    state = torch.random.get_rng_state()
    a = perturb(x, KINDS, torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a, perturb(x, KINDS, torch.Generator().manual_seed(3)))
    assert not torch.equal(a, perturb(x, KINDS, torch.Generator().manual_seed(4)))


def test_blur_matches_scipy():
    """kornia's Gaussian blur against scipy's (an independent reference), away from the borders."""
    x = _images(1, 32)
    gen = torch.Generator().manual_seed(0)
    sigma = float(0.3 + 1.7 * torch.rand(1, generator=torch.Generator().manual_seed(0)))  # U(0.3, 2.0)
    y = OPS["blur"](x, gen)
    ref = gaussian_filter(x[0].numpy(), sigma=(0, sigma, sigma), truncate=2.0 / sigma)
    assert torch.allclose(y[0, :, 4:-4, 4:-4], torch.from_numpy(ref)[:, 4:-4, 4:-4], atol=1e-4)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown training perturbation"):
        FingerprintTrainConfig(perturbations=("jpg",))


@pytest.mark.filterwarnings("ignore::fpbench.fingerprint.training.TrainingWarning")  # 6 steps: the fallback starts L2
def test_plain_training_is_untouched_and_immunised_training_differs():
    """No perturbations: the paper's training, bit for bit; with them, other weights from the same seed."""
    images = (_images(32, 16) * 255).round().to(torch.uint8)
    cfg = FingerprintTrainConfig(n_bits=8, resolution=16, steps=6, batch_size=8, checkpoint_every=0,
                                 fallback_activation_step=0, l2_await=0, l2_ramp=2)
    plain = train_fingerprint(images, cfg, progress=False).models
    again = train_fingerprint(images, dataclasses.replace(cfg, perturbations=()), progress=False).models
    immunised = train_fingerprint(images, dataclasses.replace(cfg, perturbations=KINDS), progress=False).models
    for k, v in plain.decoder.state_dict().items():
        assert torch.equal(v, again.decoder.state_dict()[k])
    assert any(not torch.equal(v, immunised.decoder.state_dict()[k]) for k, v in plain.decoder.state_dict().items())
