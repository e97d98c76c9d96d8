"""Wang et al. 2020 (CNNDetection), "CNN-generated images are surprisingly easy to spot... for now".

The original is an ImageNet-pretrained ResNet-50 fine-tuned as a real/fake detector. Pretrained weights
cannot be downloaded here, so this is the honest CPU variant: a small ResNet trained FROM SCRATCH
(``pretrained = False``) with the paper's recipe otherwise: one logit (binary cross-entropy), Gaussian blur
(sigma ~ U(0, 3)) with probability ``blur_prob`` and real JPEG (PIL, quality ~ U{30..100}) with probability
``jpeg_prob`` (0.5 each by default; the paper's "Blur+JPEG (0.5)"), then a random crop and a random
horizontal flip. At test time the network sees the centre crop of the same size.

Learning rate: the paper's Adam lr 1e-4 fine-tunes a pretrained ResNet-50; trained from scratch with it, this
network reached 0.858 closed-world detection on the quick zoo after 40 epochs, against 0.968 with lr 1e-3
after 20 (cosine schedule, early stopping; issue 22's note), so 1e-3 is the default.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter
from sklearn.utils import Tags
from torch import nn

from fpbench.baselines._base import check_positive
from fpbench.baselines._registry import BASELINES
from fpbench.baselines._torch_classifier import TorchImageClassifier, random_hflip


class _BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv + batch norm, identity or 1x1-projection shortcut."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def small_resnet(widths: tuple[int, ...] = (32, 64, 128), blocks_per_stage: int = 1,
                 n_outputs: int = 1) -> nn.Sequential:
    """A from-scratch ResNet for small images: 3x3 stem, one stage per width (stride 2 after the first),
    global average pooling, linear head. Works for any input size."""
    layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()]
    in_ch = widths[0]
    for stage, width in enumerate(widths):
        for block in range(blocks_per_stage):
            layers.append(_BasicBlock(in_ch, width, 2 if stage > 0 and block == 0 else 1))
            in_ch = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_ch, n_outputs)]
    return nn.Sequential(*layers)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Real libjpeg compression via PIL of one 3xHxW float image in [0,1]; returns float32 3xHxW."""
    pixels = np.clip(np.rint(image.transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    decoded = np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32) / 255.0
    return decoded.transpose(2, 0, 1)


@BASELINES.register("wang2020")
class Wang2020(TorchImageClassifier):
    """CNNDetection-style binary real/fake detector: small ResNet from scratch, one logit.

    ``y`` must have exactly 2 classes; the logit scores ``classes_[1]`` (with labels 0=real, 1=fake, or
    "fake"/"real" sorted alphabetically, check ``classes_``).

    Parameters
    ----------
    epochs, max_steps, batch_size, learning_rate : training length and Adam step (paper: batch 64, 1e-4 when
        fine-tuning; 1e-3 here, from scratch).
    widths, blocks_per_stage : the ResNet's stage widths and basic blocks per stage.
    blur_prob, blur_sigma_max : Gaussian blur with sigma ~ U(0, blur_sigma_max) applied with this probability.
    jpeg_prob, jpeg_quality_min, jpeg_quality_max : PIL JPEG with quality ~ U{min..max} with this probability.
    crop_fraction : side of the random training crop (centre crop at test) as a fraction of the image side.
    hflip : random horizontal flips during training.
    validation_fraction, patience, schedule : training to convergence, see :class:`TorchImageClassifier`.
    device, num_threads, random_state, verbose : see :class:`TorchImageClassifier`.
    """

    #: No ImageNet weights: nothing can be downloaded here, so the network is trained from scratch.
    pretrained = False
    _single_logit = True

    def __init__(self, *, epochs=10, max_steps=None, batch_size=64, learning_rate=1e-3, widths=(32, 64, 128),
                 blocks_per_stage=1, blur_prob=0.5, blur_sigma_max=3.0, jpeg_prob=0.5, jpeg_quality_min=30,
                 jpeg_quality_max=100, crop_fraction=0.875, hflip=True, validation_fraction=0.1, patience=5,
                 schedule="cosine", device="cpu", num_threads=None, random_state=None, verbose=False):
        self.epochs = epochs
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.widths = widths
        self.blocks_per_stage = blocks_per_stage
        self.blur_prob = blur_prob
        self.blur_sigma_max = blur_sigma_max
        self.jpeg_prob = jpeg_prob
        self.jpeg_quality_min = jpeg_quality_min
        self.jpeg_quality_max = jpeg_quality_max
        self.crop_fraction = crop_fraction
        self.hflip = hflip
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.schedule = schedule
        self.device = device
        self.num_threads = num_threads
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _check_params(self) -> None:
        super()._check_params()
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (batch norm), got {self.batch_size}")
        if len(self.widths) == 0:
            raise ValueError("widths must name at least one stage width")
        for width in self.widths:
            check_positive("widths[i]", width, integer=True)
        check_positive("blocks_per_stage", self.blocks_per_stage, integer=True)
        for name in ("blur_prob", "jpeg_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.blur_sigma_max < 0:
            raise ValueError(f"blur_sigma_max must be >= 0, got {self.blur_sigma_max!r}")
        if not 1 <= self.jpeg_quality_min <= self.jpeg_quality_max <= 100:
            raise ValueError("need 1 <= jpeg_quality_min <= jpeg_quality_max <= 100, got "
                             f"{self.jpeg_quality_min}, {self.jpeg_quality_max}")
        if not 0.0 < self.crop_fraction <= 1.0:
            raise ValueError(f"crop_fraction must be in (0, 1], got {self.crop_fraction!r}")

    def _crop_size(self, height: int, width: int) -> tuple[int, int]:
        return max(1, round(self.crop_fraction * height)), max(1, round(self.crop_fraction * width))

    def _build_module(self, image_shape, n_outputs):
        return small_resnet(tuple(self.widths), self.blocks_per_stage, n_outputs)

    def _make_optimizer(self, params):
        return torch.optim.Adam(params, lr=self.learning_rate)

    def _augment(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        X = X.copy()
        n, _, height, width = X.shape
        for i in range(n):
            if rng.random() < self.blur_prob:
                sigma = rng.uniform(0.0, self.blur_sigma_max)
                X[i] = gaussian_filter(X[i], sigma=(0.0, sigma, sigma))
            if rng.random() < self.jpeg_prob:
                X[i] = jpeg_roundtrip(X[i], rng.integers(self.jpeg_quality_min, self.jpeg_quality_max + 1))
        ch, cw = self._crop_size(height, width)
        tops = rng.integers(0, height - ch + 1, size=n)
        lefts = rng.integers(0, width - cw + 1, size=n)
        X = np.stack([X[i, :, t:t + ch, s:s + cw] for i, (t, s) in enumerate(zip(tops, lefts, strict=True))])
        return random_hflip(X, rng) if self.hflip else X

    def _test_view(self, X: np.ndarray) -> np.ndarray:
        height, width = X.shape[2:]
        ch, cw = self._crop_size(height, width)
        top, left = (height - ch) // 2, (width - cw) // 2
        return X[:, :, top:top + ch, left:left + cw]
