"""A built-in, offline real-image source: random crops of the photographs shipped inside
scikit-image, scikit-learn and matplotlib.

Splits are by source photograph, so no crop of a test photo is ever seen in training:

- ``train``: astronaut, chelsea, hubble_deep_field, retina, china, grace_hopper
- ``test``: coffee, flower, rocket
- ``holdout`` (disjoint data for an adversary's own models): the stereo motorcycle pair, immunohistochemistry

(skimage's ``cat`` is the same photo as ``chelsea`` and is left out; the two motorcycle views are one
source.) Crops are square, of a random side between ``min_scale`` and 1 times the photo's short side,
resized to the resolution with antialiasing, and flipped horizontally with probability 1/2; the whole
set is a deterministic function of (split, n, resolution, seed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F

SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("astronaut", "chelsea", "hubble_deep_field", "retina", "china", "grace_hopper"),
    "test": ("coffee", "flower", "rocket"),
    "holdout": ("motorcycle_left", "motorcycle_right", "immunohistochemistry"),
}


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        if name.startswith("motorcycle_"):
            left, right, _ = skimage.data.stereo_motorcycle()
            return left if name.endswith("left") else right
        return getattr(skimage.data, name)()

    return load


def _sklearn(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")

    return load


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook
    from PIL import Image

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        return np.asarray(Image.open(fh).convert("RGB"))


LOADERS: dict[str, Callable[[], np.ndarray]] = {
    **{n: _skimage(n) for n in ("astronaut", "chelsea", "hubble_deep_field", "retina", "coffee", "rocket",
                                 "immunohistochemistry", "motorcycle_left", "motorcycle_right")},
    "china": _sklearn("china"),
    "flower": _sklearn("flower"),
    "grace_hopper": _grace_hopper,
}


@cache
def photo(name: str) -> torch.Tensor:
    """One source photograph as a 3xHxW uint8 tensor."""
    array = LOADERS[name]()
    if array.ndim != 3 or array.shape[2] < 3:
        raise ValueError(f"built-in photo {name!r} is not an RGB image (shape {array.shape})")
    return torch.from_numpy(np.array(array[..., :3], copy=True)).permute(2, 0, 1).contiguous()


@dataclass(frozen=True)
class BuiltinData:
    """Config of one built-in crop set; hashed into cache keys."""

    split: str
    n: int
    resolution: int
    seed: int = 0
    min_scale: float = 0.15
    version: int = 1


def crops(config: BuiltinData) -> torch.Tensor:
    """Deterministic random crops: uint8 Nx3xRxR."""
    if config.split not in SPLITS:
        raise ValueError(f"unknown split {config.split!r}; valid: {', '.join(SPLITS)}")
    if config.n < 1:
        raise ValueError(f"n must be >= 1, got {config.n}")
    rng = np.random.default_rng([config.seed, list(SPLITS).index(config.split)])
    names = SPLITS[config.split]
    photos = [photo(n) for n in names]
    which = rng.integers(0, len(photos), size=config.n)
    out = torch.empty(config.n, 3, config.resolution, config.resolution, dtype=torch.uint8)
    for i, p_idx in enumerate(which):
        img = photos[p_idx]
        short = min(img.shape[1:])
        side = max(config.resolution // 2, int(round(short * rng.uniform(config.min_scale, 1.0))))
        side = min(side, short)
        top = int(rng.integers(0, img.shape[1] - side + 1))
        left = int(rng.integers(0, img.shape[2] - side + 1))
        patch = img[:, top:top + side, left:left + side][None].float()
        patch = F.interpolate(patch, size=(config.resolution, config.resolution), mode="bilinear",
                              antialias=True, align_corners=False)
        if rng.random() < 0.5:
            patch = patch.flip(-1)
        out[i] = patch[0].round().clamp(0, 255).to(torch.uint8)
    return out
