"""fpbench.fingerprint.hardening: the perturbation against scipy, and what the decoder-only phase may touch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from fpbench.fingerprint.hardening import BLUR_KERNEL, harden_decoder, perturb
from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder, initialise
from fpbench.fingerprint.training import FingerprintTrainConfig, train_fingerprint


def _images(n: int = 32, r: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 5, 5, generator=g)
    return (torch.nn.functional.interpolate(coarse, size=(r, r), mode="bilinear") * 255).round().to(torch.uint8)


def _nets(n_bits: int = 8, r: int = 16):
    torch.manual_seed(0)
    enc, dec = FingerprintEncoder(n_bits, r, "residual"), FingerprintDecoder(n_bits, r)
    initialise(enc, "kaiming")
    initialise(dec, "kaiming")
    return enc, dec


class TestPerturb:
    @pytest.mark.parametrize("sigma", [0.3, 0.7, 1.0])
    def test_blur_matches_scipy(self, sigma):
        x = _images(2).float() / 255
        out = perturb(x, torch.full((2,), sigma), torch.zeros(2))
        # torch/kornia "reflect" (d c b | a b c d) is scipy's "mirror"; a 5-tap kernel is radius 2
        radius = BLUR_KERNEL // 2
        want = np.stack([gaussian_filter(x[i].numpy(), sigma=(0, sigma, sigma), mode="mirror", truncate=radius / sigma)
                         for i in range(2)])
        want = np.round(np.clip(want, 0, 1) * 255) / 255
        assert np.abs(out.numpy() - want).max() <= 1 / 255 + 1e-6  # at most one rounding step apart
        assert np.mean(out.numpy() == want) > 0.95

    def test_noise_level_and_grid(self):
        x = torch.full((2, 3, 64, 64), 0.5)
        out = perturb(x, torch.zeros(2), torch.tensor([0.0, 0.05]), torch.Generator().manual_seed(1))
        assert torch.equal(out[0], torch.full_like(out[0], round(0.5 * 255) / 255))
        assert abs(float((out[1] - 0.5).std()) - 0.05) < 0.005
        assert torch.equal(out, (out * 255).round() / 255) and out.min() >= 0 and out.max() <= 1

    def test_seeded(self):
        x = _images(4).float() / 255
        a = perturb(x, torch.full((4,), 0.5), torch.full((4,), 0.03), torch.Generator().manual_seed(3))
        b = perturb(x, torch.full((4,), 0.5), torch.full((4,), 0.03), torch.Generator().manual_seed(3))
        assert torch.equal(a, b)

    def test_shape_errors_name_the_problem(self):
        with pytest.raises(ValueError, match="sigmas"):
            perturb(torch.zeros(2, 3, 8, 8), torch.zeros(3), torch.zeros(2))


class TestHardenDecoder:
    def test_trains_only_the_decoder_reproducibly(self):
        images = _images()
        runs = []
        for _ in range(2):
            enc, dec = _nets()
            enc_before = {k: v.clone() for k, v in enc.state_dict().items()}
            dec_before = {k: v.clone() for k, v in dec.state_dict().items()}
            harden_decoder(enc, dec, images, steps=3, n_bits=8, batch_size=8, seed=5, progress=False)
            assert all(torch.equal(v, enc_before[k]) for k, v in enc.state_dict().items())
            assert any(not torch.equal(v, dec_before[k]) for k, v in dec.state_dict().items())
            assert not dec.training
            runs.append(dec.state_dict())
        assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])

    def test_ema_is_the_moving_average_of_the_trajectory(self):
        # reference: the weights after k = 0..n plain steps (a k-step run is the first k steps of a longer
        # one), averaged as avg_k = d * avg_{k-1} + (1 - d) * w_k from avg_0 = w_0
        images, n, d = _images(), 3, 0.5
        trajectory = []
        for k in range(n + 1):
            enc, dec = _nets()
            harden_decoder(enc, dec, images, steps=k, n_bits=8, batch_size=8, seed=5, progress=False)
            trajectory.append({name: p.detach().clone() for name, p in dec.named_parameters()})
        expected = trajectory[0]
        for w in trajectory[1:]:
            expected = {name: d * expected[name] + (1 - d) * w[name] for name in w}
        enc, dec = _nets()
        harden_decoder(enc, dec, images, steps=n, n_bits=8, batch_size=8, seed=5, ema_decay=d, progress=False)
        for name, p in dec.named_parameters():
            torch.testing.assert_close(p.detach(), expected[name], rtol=1e-5, atol=1e-6, msg=name)
        assert any(not torch.equal(trajectory[-1][name], p) for name, p in dec.named_parameters())

    def test_zero_steps_changes_nothing(self):
        enc, dec = _nets()
        before = {k: v.clone() for k, v in dec.state_dict().items()}
        harden_decoder(enc, dec, _images(), steps=0, n_bits=8, progress=False)
        assert all(torch.equal(v, before[k]) for k, v in dec.state_dict().items())

    @pytest.mark.parametrize("kwargs,match", [({"steps": -1}, "steps"), ({"steps": 1.5}, "steps"),
                                              ({"steps": 1, "blur_sigma": 0.1}, "blur_sigma"),
                                              ({"steps": 1, "ema_decay": 1.0}, "ema_decay")])
    def test_bad_arguments(self, kwargs, match):
        enc, dec = _nets()
        with pytest.raises(ValueError, match=match):
            harden_decoder(enc, dec, _images(), n_bits=8, progress=False, **kwargs)

    @pytest.mark.filterwarnings("ignore::fpbench.fingerprint.training.TrainingWarning")
    def test_part_of_training_when_configured(self):
        cfg = FingerprintTrainConfig(n_bits=8, resolution=16, steps=5, batch_size=8, lr=1e-3, output="residual",
                                     l2_await=1, l2_ramp=2, checkpoint_every=0, seed=3,
                                     fallback_activation_step=1)
        plain = train_fingerprint(_images(), cfg, progress=False)
        hardened = train_fingerprint(_images(), dataclasses.replace(cfg, hardening_steps=2), progress=False)
        # same encoder (hardening runs after training), different decoder
        for k, v in plain.models.encoder.state_dict().items():
            assert torch.equal(v, hardened.models.encoder.state_dict()[k])
        assert any(not torch.equal(v, hardened.models.decoder.state_dict()[k])
                   for k, v in plain.models.decoder.state_dict().items())
