"""Yu et al. 2019, "Attributing Fake Images to GANs": a plain CNN attribution classifier.

Small from-scratch version of the recipe: per resolution two 3x3 convs + LeakyReLU(0.2) + 2x2 average
pooling, widths doubling from ``base_width`` up to ``max_width`` (512 in the paper; 128 is enough on CPU),
no fromRGB layer, until the feature map is ``final_resolution`` pixels or smaller, then one dense layer to K
classes. Inputs are mapped to [-1, 1]; Adam lr 1e-3, batch 32, random horizontal flips, softmax
cross-entropy. Adam's betas are (0.9, 0.999), not the paper's ProGAN-style (0, 0.99): on the quick zoo, 20
epochs with a cosine schedule reached 0.992 closed-world attribution with them and 0.964 with the paper's,
whose first epochs sit longer at chance (issue 22's note). ``init="he"`` starts the convolutions at
ProGAN's scale (He-normal, as its equalised learning rate does) instead of PyTorch's default, whose signal
shrinks ~4x per block so that every image starts with nearly the same logits: on a proxy attribution task
(real quick crops plus a fixed per-class pattern of amplitude 0.02, 600 per class, 2 seeds) PyTorch's init
stayed at chance until early stopping and He's left it at epoch 6-7 (0.78 validation in 12 epochs). He is
the default: on the quick zoo (1000 images per class, 20 epochs, 1 thread) it reached closed-world
attribution 0.995 and 0.993 with estimator seeds 0 and 1 (validation 0.99 from epoch ~12), where PyTorch's
init gave 0.913 in 20 epochs and, with 40, 0.993 at seed 0 but never left chance at seed 1 (early stopping
at epoch 6). Its detection is lower (0.92-0.95 against 0.995): it calls more real test photos fake.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from fpbench.baselines._base import check_positive
from fpbench.baselines._registry import BASELINES
from fpbench.baselines._torch_classifier import TorchImageClassifier, random_hflip
from fpbench.registry import check_choice


def yu2019_network(image_shape: tuple[int, int, int], n_classes: int, base_width: int = 16,
                   max_width: int = 128, final_resolution: int = 4) -> nn.Sequential:
    """The attribution CNN for images of ``image_shape`` (3, H, W); returns logits N x ``n_classes``."""
    channels, height, width = image_shape
    if min(height, width) < final_resolution:
        raise ValueError(f"yu2019 needs images of at least {final_resolution}x{final_resolution}, "
                         f"got {height}x{width}")
    layers: list[nn.Module] = []
    in_ch, level = channels, 0
    while min(height, width) > final_resolution:
        out_ch = min(base_width * 2**level, max_width)
        layers += [nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.LeakyReLU(0.2),
                   nn.Conv2d(out_ch, out_ch, 3, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(2)]
        in_ch, level = out_ch, level + 1
        height, width = height // 2, width // 2
    layers += [nn.Flatten(), nn.Linear(in_ch * height * width, n_classes)]
    return nn.Sequential(*layers)


def he_init(module: nn.Module, negative_slope: float = 0.2) -> nn.Module:
    """He-normal weights (gain for LeakyReLU(``negative_slope``)) and zero biases for every convolution of
    ``module``, in place; returns it. ProGAN's equalised learning rate starts its layers at this scale.
    PyTorch's default (uniform, a third of He's variance) shrinks the signal ~4x per block here: at init
    every image gets nearly the same logits, the start of a plateau at chance."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, a=negative_slope, nonlinearity="leaky_relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module


@BASELINES.register("yu2019")
class Yu2019(TorchImageClassifier):
    """GAN-fingerprint attribution CNN (Yu et al. 2019), K-way softmax.

    Parameters
    ----------
    epochs, max_steps, batch_size : training length; ``max_steps`` (None: no cap) stops early.
    learning_rate, betas : Adam settings (paper: 1e-3, (0, 0.99); here (0.9, 0.999), see above).
    base_width, max_width : channel width of the first resolution block, and the cap of the doubling.
    final_resolution : stop down-sampling once the feature map's short side is at most this.
    hflip : random horizontal flips during training.
    init : "he" (He-normal convolutions, :func:`he_init`; the default) or "torch" (PyTorch's default).
    validation_fraction, patience, schedule : training to convergence, see :class:`TorchImageClassifier`.
    device, num_threads, random_state, verbose : see :class:`TorchImageClassifier`.

    >>> clf = Yu2019(epochs=5, max_width=64, random_state=0)  # doctest: +SKIP
    >>> clf.fit(X_train, y_train).predict(X_test)              # doctest: +SKIP
    """

    def __init__(self, *, epochs=10, max_steps=None, batch_size=32, learning_rate=1e-3, betas=(0.9, 0.999),
                 base_width=16, max_width=128, final_resolution=4, hflip=True, init="he", validation_fraction=0.1,
                 patience=5, schedule="cosine", device="cpu", num_threads=None, random_state=None,
                 verbose=False):
        self.epochs = epochs
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.betas = betas
        self.base_width = base_width
        self.max_width = max_width
        self.final_resolution = final_resolution
        self.hflip = hflip
        self.init = init
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.schedule = schedule
        self.device = device
        self.num_threads = num_threads
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        super()._check_params()
        check_positive("base_width", self.base_width, integer=True)
        check_positive("max_width", self.max_width, integer=True)
        check_positive("final_resolution", self.final_resolution, integer=True)
        check_choice("init", self.init, ("he", "torch"))

    def _build_module(self, image_shape, n_outputs):
        network = yu2019_network(image_shape, n_outputs, self.base_width, self.max_width, self.final_resolution)
        return he_init(network) if self.init == "he" else network

    def _make_optimizer(self, params):
        return torch.optim.Adam(params, lr=self.learning_rate, betas=tuple(self.betas))

    def _augment(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return random_hflip(X, rng) if self.hflip else X

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 - 1
