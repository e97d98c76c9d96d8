"""Component checks: the shared torch loop, the two CNNs, the classifier options of the linear baselines."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

import fpbench.baselines.wang2020 as wang2020_module
from fpbench.baselines import Durall2020, Frank2020, Frank2020Pixels, Wang2020, Yu2019
from fpbench.baselines.frank2020 import log_dct_features
from fpbench.baselines.wang2020 import jpeg_roundtrip, small_resnet
from fpbench.baselines.yu2019 import yu2019_network


class TestTorchTrainingLoop:
    @pytest.mark.parametrize(("n", "batch_size", "epochs", "max_steps", "steps", "n_epochs_run"),
                             [(20, 8, 2, None, 6, 2), (20, 8, 2, 4, 4, 2), (20, 8, 3, 3, 3, 1),
                              (17, 8, 2, None, 4, 2), (16, 16, 3, None, 3, 3)])
    def test_step_count(self, patterns, n, batch_size, epochs, max_steps, steps, n_epochs_run):
        """ceil(n / batch_size) steps per epoch, minus a lone leftover image; max_steps caps the total."""
        X, y = patterns(n // 2 + 1, size=8)
        model = Yu2019(epochs=epochs, max_steps=max_steps, batch_size=batch_size, max_width=8, random_state=0)
        model.fit(X[:n], y[:n])
        assert model.n_steps_ == steps
        assert len(model.loss_curve_) == n_epochs_run
        assert not model.module_.training

    def test_global_rng_and_threads_untouched(self, patterns):
        X, y = patterns(6, size=8)
        torch.manual_seed(123)
        state = torch.get_rng_state()
        threads = torch.get_num_threads()
        Yu2019(epochs=1, max_width=8, num_threads=2, random_state=0).fit(X, y)
        assert torch.equal(torch.get_rng_state(), state)
        assert torch.get_num_threads() == threads

    def test_different_seeds_differ(self, patterns):
        X, y = patterns(6, size=8)
        a = Yu2019(epochs=1, max_width=8, random_state=0).fit(X, y).predict_proba(X)
        b = Yu2019(epochs=1, max_width=8, random_state=1).fit(X, y).predict_proba(X)
        assert not np.allclose(a, b)

    def test_verbose_shows_progress(self, patterns, capsys):
        X, y = patterns(6, size=8)
        Yu2019(epochs=1, max_width=8, random_state=0, verbose=True).fit(X, y)
        assert "Yu2019" in capsys.readouterr().err

    @pytest.mark.parametrize("cls", [Yu2019, Wang2020])
    def test_cuda_device(self, patterns, cls):
        """Trains on CUDA where there is one; otherwise fails clearly at fit."""
        X, y = patterns(4, size=8)
        model = cls(epochs=1, batch_size=4, device="cuda", random_state=0)
        if not torch.cuda.is_available():
            with pytest.raises(ValueError, match="CUDA is not available"):
                model.fit(X, y)
            return
        assert model.fit(X, y).predict_proba(X).shape == (len(X), 2)
        assert next(model.module_.parameters()).is_cuda

    @pytest.mark.parametrize(("param", "value"), [("device", "gpu0"), ("batch_size", 0), ("max_steps", 0),
                                                  ("learning_rate", -1e-3), ("num_threads", 0)])
    def test_bad_settings(self, patterns, param, value):
        X, y = patterns(4, size=8)
        with pytest.raises(ValueError, match=param):
            Yu2019(**{param: value}).fit(X, y)


class TestYu2019:
    def test_architecture_at_32px(self):
        net = yu2019_network((3, 32, 32), 5, base_width=16, max_width=128)
        convs = [m for m in net if isinstance(m, torch.nn.Conv2d)]
        assert convs[0].in_channels == 3  # no fromRGB: the first 3x3 conv reads the image
        assert [c.out_channels for c in convs] == [16, 16, 32, 32, 64, 64]
        assert all(c.kernel_size == (3, 3) for c in convs)
        assert sum(isinstance(m, torch.nn.AvgPool2d) for m in net) == 3
        assert all(m.negative_slope == 0.2 for m in net if isinstance(m, torch.nn.LeakyReLU))
        assert net[-1].in_features == 64 * 4 * 4 and net[-1].out_features == 5
        assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 5)

    def test_width_cap(self):
        net = yu2019_network((3, 64, 64), 2, base_width=16, max_width=32)
        assert max(m.out_channels for m in net if isinstance(m, torch.nn.Conv2d)) == 32

    def test_inputs_mapped_to_minus_one_one_and_optimizer(self):
        model = Yu2019()
        np.testing.assert_allclose(model._scale(torch.tensor([0.0, 0.5, 1.0])), [-1.0, 0.0, 1.0])
        optimizer = model._make_optimizer([torch.nn.Parameter(torch.zeros(1))])
        assert optimizer.defaults["lr"] == 1e-3 and optimizer.defaults["betas"] == (0.9, 0.999)  # not the paper's (0, 0.99): issue 22
        assert model.batch_size == 32

    def test_too_small_images(self, patterns):
        X, y = patterns(4, size=8)
        with pytest.raises(ValueError, match="at least 16x16"):
            Yu2019(final_resolution=16).fit(X, y)

    def test_he_init_scale(self):
        """Each convolution's weights get std sqrt(2 / (1 + 0.2^2) / fan_in) (He, LeakyReLU 0.2; fan_in =
        in_channels * 9) and zero biases; the linear head keeps PyTorch's default."""
        torch.manual_seed(0)
        net = Yu2019(init="he")._build_module((3, 32, 32), 5)
        convs = [m for m in net if isinstance(m, torch.nn.Conv2d)]
        for conv in convs:
            expected = (2 / 1.04 / (conv.in_channels * 9)) ** 0.5
            assert float(conv.weight.detach().std()) == pytest.approx(expected, rel=0.1 if conv.weight.numel() > 4000 else 0.25)
            assert not conv.bias.any()
        torch.manual_seed(0)
        plain = Yu2019(init="torch")._build_module((3, 32, 32), 5)
        assert float(plain[0].weight.detach().std()) < 0.7 * float(convs[0].weight.detach().std())  # a third of He's variance

    def test_he_init_keeps_images_apart(self):
        """Why: at PyTorch's default init the logits of different images barely differ (the plateau at
        chance); at He's they differ ~100x more."""
        x = torch.rand(64, 3, 32, 32) * 2 - 1
        spread = {}
        for init in ("torch", "he"):
            torch.manual_seed(0)
            with torch.no_grad():
                spread[init] = float(Yu2019(init=init)._build_module((3, 32, 32), 5)(x).std(0).mean())
        assert spread["he"] > 30 * spread["torch"]


class TestWang2020:
    def test_no_pretrained_weights(self):
        assert Wang2020.pretrained is False
        assert "FROM SCRATCH" in wang2020_module.__doc__

    def test_single_logit(self):
        assert small_resnet((8, 16), 1, 1)(torch.zeros(2, 3, 14, 14)).shape == (2, 1)

    def test_jpeg_is_real_pil_jpeg(self):
        image = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
        pixels = np.clip(np.rint(image.transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=40)
        expected = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float32) / 255
        np.testing.assert_array_equal(jpeg_roundtrip(image, 40), expected.transpose(2, 0, 1))

    def test_augmentation_off_is_identity_up_to_crop(self):
        X = np.random.default_rng(1).random((4, 3, 16, 16)).astype(np.float32)
        model = Wang2020(blur_prob=0.0, jpeg_prob=0.0, crop_fraction=1.0, hflip=False)
        np.testing.assert_array_equal(model._augment(X, np.random.default_rng(0)), X)

    def test_augmentation_crops_and_changes_images(self):
        X = np.random.default_rng(2).random((8, 3, 16, 16)).astype(np.float32)
        model = Wang2020(blur_prob=1.0, jpeg_prob=1.0, crop_fraction=0.75)
        out = model._augment(X, np.random.default_rng(0))
        assert out.shape == (8, 3, 12, 12) and out.dtype == np.float32
        assert 0.0 <= out.min() and out.max() <= 1.0
        assert model._test_view(X).shape == (8, 3, 12, 12)
        np.testing.assert_array_equal(model._test_view(X), X[:, :, 2:14, 2:14])
        # blurred and compressed: high frequencies of white noise are strongly attenuated
        assert np.abs(np.diff(out, axis=-1)).mean() < 0.5 * np.abs(np.diff(X, axis=-1)).mean()

    @pytest.mark.parametrize(("param", "value"), [("blur_prob", 1.5), ("jpeg_quality_min", 0),
                                                  ("crop_fraction", 0.0), ("batch_size", 1)])
    def test_bad_settings(self, patterns, param, value):
        X, y = patterns(4, size=8)
        with pytest.raises(ValueError, match=param):
            Wang2020(**{param: value}).fit(X, y)


class TestFrank2020:
    def test_equals_manual_pipeline(self, patterns):
        X, y = patterns(10, n_classes=3, size=8)
        features = log_dct_features(X)
        mean, std = features.mean(axis=0), features.std(axis=0)
        reference = LogisticRegression(C=0.5, max_iter=2000).fit((features - mean) / std, y)
        model = Frank2020(C=0.5).fit(X, y)
        np.testing.assert_allclose(model.scaler_.mean_, mean, rtol=1e-10)
        np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba((features - mean) / std),
                                   rtol=1e-6, atol=1e-9)

    def test_pixel_control_uses_pixels(self, patterns):
        X, y = patterns(6, size=8)
        assert Frank2020Pixels().fit(X, y).scaler_.n_features_in_ == 3 * 8 * 8
        np.testing.assert_allclose(Frank2020Pixels().fit(X, y).scaler_.mean_, X.reshape(len(X), -1).mean(axis=0),
                                   rtol=1e-6)


class TestDurall2020:
    @pytest.mark.parametrize("n_classes", [2, 3])
    def test_svm_proba_from_decision_function(self, patterns, n_classes):
        X, y = patterns(12, n_classes=n_classes, size=16)
        model = Durall2020(classifier="svm").fit(X, y)
        svc = model.classifier_
        assert (svc.C, svc.gamma, svc.kernel) == (6.37, 0.86, "rbf")
        features = model._features(X)
        np.testing.assert_array_equal(model.predict(X), svc.predict(features))
        if n_classes == 2:
            np.testing.assert_allclose(model.predict_proba(X)[:, 1], expit(svc.decision_function(features)))

    def test_unknown_classifier(self, patterns):
        with pytest.raises(ValueError, match="Did you mean 'svm'"):
            Durall2020(classifier="svn").fit(*patterns(4, size=8))

    def test_features_are_normalised_profiles(self, patterns):
        X, _ = patterns(3, size=16)
        features = Durall2020._features(X)
        np.testing.assert_allclose(features.min(axis=1), 0.0)
        np.testing.assert_allclose(features.max(axis=1), 1.0)
