"""Detectability (secrecy): can an adversary tell fingerprinted images from clean ones?

These two entries are adaptive attacks whose goal is *detection*, not a changed image, so their
calling convention differs from the other adaptive attacks (category ``"detectability"``)::

    scores = fn(test_images, n_train=N, *, seed, marked=..., clean=...)

``marked`` / ``clean`` are the adversary's training pools (Nx3xHxW, uint8 or float in [0,1]); the
detector trains on ``n_train`` images of each (the same seeded indices in both pools, so paired
pools stay paired, as in cover/stego steganalysis) and returns one score per test image: the
probability that it is fingerprinted (float64 tensor, B). The parameter is the adversary's training
set size, so a grid over it gives accuracy/AUC as a function of how much data the adversary has.

- ``detectability_srm``: hand-crafted steganalysis features (SRM-style high-pass residuals: 1st/2nd/3rd
  order, KB and KV kernels, each direction; per channel a truncated histogram and moments, and
  horizontal+vertical co-occurrences) -> standardisation -> L2 logistic regression;
- ``detectability_cnn``: a small steganalysis CNN (:class:`SteganalysisCNN`) with the same high-pass bank
  as a fixed first layer. (The Yu et al. 2019 baseline CNN was tried first: its average pooling erases
  a Nyquist-frequency signal, and it stayed at chance on a planted checkerboard.)

:func:`amplitude_spectrum` is the spectral view (mean amplitude spectrum) used for the plot.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from fpbench.attacks.adaptive._context import as_float, check_adaptive_images, require
from fpbench.attacks.registry import ThreatCard, register_attack


def _kernel(rows: list[list[float]], scale: float) -> torch.Tensor:
    k = torch.tensor(rows, dtype=torch.float32) / scale
    pad = (5 - k.shape[0]) // 2
    return F.pad(k, (pad, pad, pad, pad))


_FIRST = [[0, 0, 0], [0, -1, 1], [0, 0, 0]]
_SECOND = [[0, 0, 0], [1, -2, 1], [0, 0, 0]]
_THIRD = [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -3, 3, -1], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
_KB = [[-1, 2, -1], [2, -4, 2], [-1, 2, -1]]
_KV = [[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2], [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]]

#: The high-pass bank (5x5 each, zero-padded): name -> kernel. Residuals are in 1/255 units.
SRM_KERNELS: dict[str, torch.Tensor] = {
    "first_h": _kernel(_FIRST, 1), "first_v": _kernel(_FIRST, 1).T.contiguous(),
    "second_h": _kernel(_SECOND, 2), "second_v": _kernel(_SECOND, 2).T.contiguous(),
    "third_h": _kernel(_THIRD, 3), "third_v": _kernel(_THIRD, 3).T.contiguous(),
    "kb": _kernel(_KB, 4), "kv": _kernel(_KV, 12),
}
HIST_T, HIST_Q = 3, 1.0  # histogram of round(r / 1) clipped to [-3, 3]: 7 bins
COOC_T, COOC_Q = 2, 2.0  # co-occurrence of round(r / 2) clipped to [-2, 2]: 25 bins


def srm_residuals(images: torch.Tensor) -> torch.Tensor:
    """High-pass residuals of Bx3xHxW [0,1] images in 1/255 units: B x K x 3 x H x W (reflect padding)."""
    x = images.float() * 255
    b, c, h, w = x.shape
    bank = torch.stack(list(SRM_KERNELS.values()))[:, None]  # K x 1 x 5 x 5
    padded = F.pad(x.reshape(b * c, 1, h, w), (2, 2, 2, 2), mode="reflect")
    r = F.conv2d(padded, bank)  # (B*3) x K x H x W
    return r.reshape(b, c, len(SRM_KERNELS), h, w).transpose(1, 2)


def _bincount_rows(index: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Per-row normalised histogram of integer codes (rows: leading dims flattened)."""
    rows = index.reshape(-1, index.shape[-1])
    offsets = torch.arange(len(rows))[:, None] * n_bins
    counts = torch.bincount((rows + offsets).flatten(), minlength=len(rows) * n_bins).reshape(len(rows), n_bins)
    return counts.float() / rows.shape[1]


def srm_features(images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """Steganalysis features of Bx3xHxW images (uint8 or float in [0,1]): B x D float64 numpy array."""
    out = []
    for start in range(0, len(images), batch_size):
        r = srm_residuals(as_float(images[start:start + batch_size]))  # b x K x 3 x H x W
        b, k = r.shape[:2]
        flat = r.flatten(3)  # b x K x 3 x HW
        hist_codes = (flat / HIST_Q).round().clamp(-HIST_T, HIST_T).long() + HIST_T
        hist = _bincount_rows(hist_codes, 2 * HIST_T + 1).reshape(b, k, -1)
        std = flat.std(-1, correction=0)
        moments = torch.stack([flat.abs().mean(-1), std.log1p(),
                               ((flat**4).mean(-1) / (std**4 + 1e-6)).log1p()], -1).reshape(b, k, -1)
        q = (r / COOC_Q).round().clamp(-COOC_T, COOC_T).long() + COOC_T  # b x K x 3 x H x W
        n = 2 * COOC_T + 1
        pairs_h = (q[..., :, :-1] * n + q[..., :, 1:]).flatten(2)
        pairs_v = (q[..., :-1, :] * n + q[..., 1:, :]).flatten(2)
        cooc = _bincount_rows(torch.cat([pairs_h, pairs_v], -1), n * n).reshape(b, k, -1)
        out.append(torch.cat([hist, moments, cooc], -1).flatten(1).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def training_set(marked: torch.Tensor, clean: torch.Tensor, n_train: int, seed: int,
                 attack: str) -> tuple[torch.Tensor, np.ndarray]:
    """``n_train`` seeded images from each pool (same indices in both when the pools have equal size),
    as float [0,1] 2n x 3 x H x W with labels 1 (marked) / 0 (clean)."""
    if int(n_train) != n_train or n_train < 2:
        raise ValueError(f"{attack}: n_train must be an integer >= 2, got {n_train!r}")
    for name, pool in (("marked", marked), ("clean", clean)):
        if pool.ndim != 4 or pool.shape[1] != 3:
            raise ValueError(f"{attack}: `{name}` must be Nx3xHxW, got shape {tuple(pool.shape)}")
        if len(pool) < n_train:
            raise ValueError(f"{attack}: n_train={n_train} but the adversary's `{name}` pool holds only {len(pool)}")
    g = torch.Generator().manual_seed(seed)
    i_marked = torch.randperm(len(marked), generator=g)[: int(n_train)]
    i_clean = i_marked if len(clean) == len(marked) else torch.randperm(len(clean), generator=g)[: int(n_train)]
    X = torch.cat([as_float(marked[i_marked]), as_float(clean[i_clean])])
    y = np.r_[np.ones(int(n_train), dtype=np.int64), np.zeros(int(n_train), dtype=np.int64)]
    return X, y


_GRID = (16, 64, 256, 1024)


@register_attack(
    "detectability_srm", kind="adaptive", param="n_train", unit="adversary's training images per class",
    grid=_GRID, neutral=None, domain=(2, 10_000_000), category="detectability", version=1, integer=True,
    description="SRM-style residual statistics + logistic regression: fingerprinted vs clean.",
    needs=("marked", "clean"),
    threat=ThreatCard(
        knowledge="black-box",
        data="n_train fingerprinted and n_train clean images (fingerprinted vs clean holdout photos, or the "
             "generator's vs a clean control's samples)",
        compute="SRM residual statistics and a logistic regression fit; no queries to the victim's decoder",
        quality="not an image attack: detection accuracy and AUC on a balanced test set"),
)
def detectability_srm(images: torch.Tensor, n_train: int = 256, *, seed: int = 0, marked: torch.Tensor | None = None,
                      clean: torch.Tensor | None = None, C: float = 0.1) -> torch.Tensor:
    """Scores P(fingerprinted) for Bx3xHxW float [0,1] test ``images`` (float64, B)."""
    check_adaptive_images(images, "detectability_srm")
    marked = require(marked, "marked", "detectability_srm", torch.Tensor)
    clean = require(clean, "clean", "detectability_srm", torch.Tensor)
    X, y = training_set(marked, clean, n_train, seed, "detectability_srm")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
    clf.fit(srm_features(X), y)
    if len(images) == 0:
        return torch.zeros(0, dtype=torch.float64)
    return torch.from_numpy(clf.predict_proba(srm_features(images))[:, 1].copy())


class SteganalysisCNN(nn.Module):
    """A small steganalysis CNN: the fixed SRM high-pass bank (not learned; residuals / 4), then
    3x3 convs with ReLU (32, 32, 64 s2, 64 s2), global average pooling and one logit. The fixed
    front end keeps the weak high-frequency signal that a plain image CNN's pooling averages away."""

    def __init__(self) -> None:
        super().__init__()
        k = 3 * len(SRM_KERNELS)
        self.body = nn.Sequential(
            nn.Conv2d(k, 32, 3, 1, 1), nn.ReLU(), nn.Conv2d(32, 32, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(), nn.Conv2d(64, 64, 3, 2, 1), nn.ReLU(),
        )
        self.head = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: Bx3xHxW in [0,1] -> B logits (positive = fingerprinted)."""
        r = srm_residuals(x).flatten(1, 2) / 4
        return self.head(self.body(r).mean((2, 3)))[:, 0]


@register_attack(
    "detectability_cnn", kind="adaptive", param="n_train", unit="adversary's training images per class",
    grid=_GRID, neutral=None, domain=(2, 10_000_000), category="detectability", version=1, integer=True,
    description="A small steganalysis CNN (fixed SRM high-pass front end) trained fingerprinted vs clean.",
    needs=("marked", "clean"), optional=("cnn_steps",),
    threat=ThreatCard(
        knowledge="black-box",
        data="n_train fingerprinted and n_train clean images (fingerprinted vs clean holdout photos, or the "
             "generator's vs a clean control's samples)",
        compute="cnn_steps Adam steps (batch 32) of a small steganalysis CNN; no queries to the victim's decoder",
        quality="not an image attack: detection accuracy and AUC on a balanced test set"),
)
def detectability_cnn(images: torch.Tensor, n_train: int = 256, *, seed: int = 0, marked: torch.Tensor | None = None,
                      clean: torch.Tensor | None = None, cnn_steps: int = 200) -> torch.Tensor:
    """Scores P(fingerprinted) for Bx3xHxW float [0,1] test ``images`` (float64, B); ``cnn_steps`` Adam
    steps (lr 1e-3) at batch 32 whatever ``n_train`` is, so the curve measures data, not compute."""
    check_adaptive_images(images, "detectability_cnn")
    marked = require(marked, "marked", "detectability_cnn", torch.Tensor)
    clean = require(clean, "clean", "detectability_cnn", torch.Tensor)
    if int(cnn_steps) != cnn_steps or cnn_steps < 1:
        raise ValueError(f"detectability_cnn: cnn_steps must be a positive integer, got {cnn_steps!r}")
    X, y = training_set(marked, clean, n_train, seed, "detectability_cnn")
    labels = torch.from_numpy(y).float()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SteganalysisCNN()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(seed)
        for _ in range(int(cnn_steps)):
            idx = torch.randint(0, len(X), (min(32, len(X)),), generator=g)
            loss = F.binary_cross_entropy_with_logits(net(X[idx]), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        scores = [torch.sigmoid(net(images[i:i + 256].float())) for i in range(0, len(images), 256)]
    return torch.cat(scores).double() if scores else torch.zeros(0, dtype=torch.float64)


def amplitude_spectrum(images: torch.Tensor) -> torch.Tensor:
    """Mean centred 2-D amplitude spectrum |FFT| over images and channels: HxW float64 (DC in the middle)."""
    x = as_float(images).double()
    amp = torch.fft.fftshift(torch.fft.fft2(x).abs(), dim=(-2, -1))
    return amp.mean((0, 1))
