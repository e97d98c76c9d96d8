"""Stage 0: the real images (built-in photographs or a user folder), as uint8 train/test/holdout sets."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fpbench.cache import config_hash, content_key, derive_key
from fpbench.data.builtin import BuiltinData, crops
from fpbench.data.folder import load_folder, split_count, split_folder
from fpbench.pipeline.stages.context import RunContext


@dataclass(frozen=True)
class RealImages:
    train: torch.Tensor
    test: torch.Tensor
    holdout: torch.Tensor
    source: str
    reference: torch.Tensor  # FID reference: unseen images of the training distribution
    key: str = ""  # the root of every cache key of a run: what the images are, and the preset's version

    def __post_init__(self) -> None:  # images made by hand (tests, scripts): keyed by their content
        if not self.key:
            object.__setattr__(self, "key", content_key(self.train, self.test, self.holdout, self.reference))


VERSION = 1  # of this stage's code: bump when the splits or the crops change
#: a folder's images: this share leaves training, and that part is halved into test and held-out images
FOLDER_REST, FOLDER_HOLDOUT = 0.2, 0.5


def folder_sizes(n: int) -> tuple[int, int, int]:
    """(train, test, holdout) counts of a folder of ``n`` >= 2 readable images as this stage splits it."""
    rest = split_count(n, FOLDER_REST)
    holdout = split_count(rest, FOLDER_HOLDOUT) if rest >= 2 else 0
    return n - rest, rest - holdout, holdout


def load_real_images(ctx: RunContext) -> RealImages:
    """The run's images; sets ``ctx.lineage["data"]``."""
    real = _load(ctx)
    ctx.lineage["data"] = real.key
    return real


def _load(ctx: RunContext) -> RealImages:
    p = ctx.preset
    if ctx.data_dir is not None:
        ctx.log(f"loading images from {ctx.data_dir}")
        images = load_folder(ctx.data_dir, p.resolution, on_error="skip", allow_upscale=p.data.allow_upscale)
        train, rest = split_folder(images, FOLDER_REST, p.data.seed)
        test, holdout = split_folder(rest, FOLDER_HOLDOUT, p.data.seed + 1) if len(rest) >= 2 else (rest, rest[:0])
        key = derive_key("data", VERSION, {"preset_version": p.version, "data_seed": p.data.seed},
                         images=content_key(images))
        return RealImages(train, test, holdout, f"folder:{ctx.data_dir}", test, key)
    if p.data.needs_data:
        raise ValueError(f"preset {p.name!r} trains on your own images: pass --data DIR (a folder of "
                         "PNG/JPEG/WebP files, e.g. CelebA); the built-in photographs are for smoke/quick")
    sets = {}
    # The FID reference is a fresh draw of crops of the training photos (other seed): the split is by
    # photo, so test crops show other scenes and would measure content shift, not generation quality.
    plan = (("train", p.data.n_train, p.data.seed), ("test", p.data.n_test, p.data.seed),
            ("holdout", p.data.n_holdout, p.data.seed), ("reference", p.data.n_test, p.data.seed + 1))
    configs = {name: BuiltinData("train" if name == "reference" else name, n, p.resolution, seed=seed)
               for name, n, seed in plan}
    for name, cfg in configs.items():
        sets[name] = ctx.cache.tensors("data", config_hash(cfg), lambda cfg=cfg: {"images": crops(cfg)})["images"]
    key = derive_key("data", VERSION, {"preset_version": p.version, "builtin": configs})
    return RealImages(sets["train"], sets["test"], sets["holdout"], "builtin", sets["reference"], key)
