"""Run presets: frozen configs whose hash keys every cached artifact.

- ``smoke``: the whole path end to end in well under a minute (tests).
- ``quick``: the README's main job on the built-in offline data, 32x32, 2 CPU cores, ~20 minutes cold (fingerprint + generators ~13-15).
- ``paper``: the paper's settings (128x128, 100-bit fingerprints, sigmoid encoder, authors' schedule) on a
  user-supplied image folder (``--data``), meant for a GPU.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from fpbench.fingerprint.training import FingerprintTrainConfig
from fpbench.generators.config import check_ids
from fpbench.registry import Registry


class FrozenMap(dict):
    """A dict that refuses changes: presets are shared through the registry, so a caller's edit of
    ``grid_overrides`` must not change the preset for everyone (derive a new one with ``replace``)."""

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError("preset maps are read-only; use dataclasses.replace(preset, grid_overrides={...})")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))


#: seeds of a repeat are spread this far apart, so repeat s of a plan seeded 1 never meets another plan's seed
SEED_STRIDE = 1000


@dataclass(frozen=True)
class GeneratorPlan:
    """One generator of the zoo: its id, architecture, seed, training length and whether it is
    trained on fingerprinted data (False = the clean control). ``discriminator``: a GENERATORS id whose
    D replaces ``arch``'s own ("" = ``arch``'s); ``loss``: a GAN loss id (fpbench.generators.LOSSES);
    ``batch_size``: images per step (for real and for fake); ``lr``: Adam's learning rate for G and D."""

    id: str
    arch: str
    seed: int
    fingerprinted: bool = True
    steps: int = 2000
    width: int = 32
    latent_dim: int = 64
    discriminator: str = ""
    loss: str = "hinge"
    batch_size: int = 64
    lr: float = 2e-4

    def __post_init__(self) -> None:  # a typo fails when the preset is defined, not after the fingerprint stage
        check_ids(self.arch, self.discriminator, self.loss)


@dataclass(frozen=True)
class Preset:
    name: str
    resolution: int
    n_bits: int
    n_train: int
    n_test: int
    n_holdout: int
    fingerprint: FingerprintTrainConfig
    needs_data: bool = False
    alpha: float = 1e-6
    generators: tuple[GeneratorPlan, ...] = ()
    gan_workers: int = 1  # CPU processes training generators side by side (fpbench.pipeline.stages.generators)
    n_samples: int = 1000
    image_attacks: tuple[str, ...] = ()
    image_attack_samples: int = 500
    model_attacks: tuple[str, ...] = ()
    model_attack_targets: tuple[str, ...] = ()  # generator ids; default: the first fingerprinted one
    baselines: tuple[str, ...] = ()  # passive baseline ids (``baselines.BASELINES``), stage fpbench.pipeline.stages.baselines
    baseline_train_per_class: int = 1000  # training images per class (real, each generator)
    baseline_epochs: int = 2  # epochs of the CNN baselines (yu2019, wang2020)
    baseline_unseen: tuple[str, ...] = ()  # open world: generator ids held out of baseline training
    baseline_attacks: tuple[str, ...] = ()  # image attacks (grids as for the fingerprint) for the baselines
    baseline_attack_methods: tuple[str, ...] = ()  # baselines evaluated on that grid
    baseline_attack_samples: int = 300  # test images per source (real, each generator) on the grid
    baseline_immunised: bool = False  # also retrain the grid's baselines with the attacks as augmentation
    adaptive_attacks: tuple[str, ...] = ()  # adaptive attack ids (removal, forgery, detectability)
    adaptive_samples: int = 256  # images attacked per source (and innocent images forged)
    adaptive_target: str = ""  # generator attacked besides "data"; default: the first fingerprinted one
    adaptive_detect_test: int = 200  # detectability test images per class
    adaptive_pgd_steps: int = 40
    adaptive_cnn_steps: int = 200  # detectability CNN training steps (batch 32)
    adversary_fingerprint: FingerprintTrainConfig | None = None  # None: adaptive.adversary.small_surrogate_config
    adversary_autoencoder_steps: int = 400
    grid_overrides: Mapping[str, tuple[float, ...]] = field(default_factory=FrozenMap)
    seed: int = 0  # the run seed: fingerprint training, fingerprints, generators, sampling, attacks
    seeds: tuple[int, ...] = (0,)  # the seeds a run repeats (``--seeds``); results get aggregate rows over them
    data_seed: int = 0  # the data split and crops: shared by every seed of a run
    version: int = 1  # in every cache key: bump when a definition changes under the same name

    def __post_init__(self) -> None:
        overrides = FrozenMap({str(k): tuple(float(v) for v in grid) for k, grid in self.grid_overrides.items()})
        object.__setattr__(self, "grid_overrides", overrides)
        seeds = tuple(int(s) for s in self.seeds)
        if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ValueError(f"seeds must be distinct non-negative integers, got {self.seeds!r}")
        object.__setattr__(self, "seeds", seeds)

    def with_seed(self, seed: int) -> Preset:
        """The preset as repeat ``seed`` of a run: every seed-dependent config moves (fingerprint training,
        generator and adversary seeds; fingerprints and sampling follow ``seed``), the data does not.
        Seed 0 is the preset as defined."""
        seed = int(seed)
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        step = seed * SEED_STRIDE
        adversary = self.adversary_fingerprint
        return replace(
            self, seed=seed, seeds=(seed,),
            fingerprint=replace(self.fingerprint, seed=self.fingerprint.seed + step),
            generators=tuple(replace(plan, seed=plan.seed + step) for plan in self.generators),
            adversary_fingerprint=None if adversary is None else replace(adversary, seed=adversary.seed + step),
        )

    def with_seeds(self, seeds: Iterable[int]) -> Preset:
        return replace(self, seeds=tuple(seeds))


PRESETS: Registry[Preset] = Registry("preset")

_MODEL_ATTACKS = ("weight_noise", "weight_noise_relative", "weight_rounding", "weight_quantization",
                  "weight_quantization_per_channel", "pruning", "channel_pruning", "weight_averaging",
                  "finetuning")

_IMAGE_ATTACKS = ("gaussian_noise", "gaussian_blur", "jpeg", "center_crop", "resize", "rotation",
                  "brightness", "contrast", "saturation", "sharpness", "median_filter", "erasing",
                  "combo_crop_brightness_jpeg")

_BASELINES = ("yu2019", "wang2020", "frank2020", "durall2020", "marra2019")
_PAPER_IMAGE_ATTACKS = ("gaussian_noise", "gaussian_blur", "jpeg", "center_crop")  # paper Fig. 3

_ADAPTIVE_ATTACKS = ("overwrite", "surrogate_pgd", "whitebox_pgd", "regeneration", "averaging", "forgery_surrogate",
                     "forgery_copy", "detectability_srm", "detectability_cnn")

PRESETS.add("smoke", Preset(
    name="smoke", resolution=16, n_bits=16, n_train=512, n_test=128, n_holdout=64,
    fingerprint=FingerprintTrainConfig(n_bits=16, resolution=16, steps=400, batch_size=32, lr=1e-3,
                                       output="residual", l2_await=20, l2_ramp=100, l2_weight=30,
                                       checkpoint_every=200, target_psnr=30.0),
    alpha=1e-3,
    # a generator that learns the fingerprint (transfer ~0.88 on 16 bits), so the regression gate can see
    # transfer get worse; ~5 s per generator on one thread
    generators=(GeneratorPlan("dcgan-s0", "dcgan", 0, steps=600, width=16, latent_dim=16, batch_size=32, lr=3e-4),
                GeneratorPlan("dcgan-clean", "dcgan", 0, fingerprinted=False, steps=600, width=16, latent_dim=16,
                              batch_size=32, lr=3e-4)),
    n_samples=64, image_attacks=("gaussian_noise", "jpeg"), image_attack_samples=32,
    model_attacks=("weight_noise", "finetuning"),
    baselines=("yu2019", "wang2020", "frank2020", "marra2019"), baseline_train_per_class=64, baseline_epochs=1,
    baseline_unseen=("dcgan-s0",), baseline_attacks=("gaussian_noise", "jpeg"),
    baseline_attack_methods=("yu2019", "frank2020"), baseline_attack_samples=32, baseline_immunised=True,
    adaptive_attacks=_ADAPTIVE_ATTACKS, adaptive_samples=16, adaptive_detect_test=16, adaptive_pgd_steps=5,
    adaptive_cnn_steps=20, adversary_autoencoder_steps=20,
    adversary_fingerprint=FingerprintTrainConfig(n_bits=16, resolution=16, steps=20, batch_size=16, lr=5e-4,
                                                 output="residual", l2_await=5, l2_ramp=10,
                                                 fallback_activation_step=10, checkpoint_every=0, seed=7919),
    grid_overrides={"gaussian_noise": (0.0, 0.1), "jpeg": (90, 50), "weight_noise": (0.0, 0.1),
                    "finetuning": (5,), "overwrite": (0.0, 1.0), "surrogate_pgd": (8,), "whitebox_pgd": (8,),
                    "regeneration": (0.1,), "averaging": (8, 32), "forgery_surrogate": (32,), "forgery_copy": (32,),
                    "detectability_srm": (8, 32), "detectability_cnn": (32,)},
))

PRESETS.add("quick", Preset(
    name="quick", resolution=32, n_bits=48, n_train=20000, n_test=1000, n_holdout=2000,
    fingerprint=FingerprintTrainConfig(n_bits=48, resolution=32, steps=1200, batch_size=64, lr=5e-4,
                                       output="residual", l2_await=100, l2_ramp=400, l2_weight=15,
                                       checkpoint_every=200, hardening_steps=400, hardening_ema=0.98,
                                       target_psnr=32.0),
    # DCGANs learn the fingerprint with the number of updates: batch 64 x 3750 steps left 1-2.6% of samples
    # short of the zoo's attribution threshold, batch 32 x 5000 at lr 3e-4 0.2-0.8% in about the same time.
    # The ResNet G learns the fingerprint only against a strided-conv D (its own average-pooling D is blind
    # to it: 0.52), 1500 steps: 100% pass. Trained one after another on both cores: two worker processes
    # (gan_workers=2) run batch-32 DCGANs 19% faster but the ResNet 2.4x slower, no gain for this zoo.
    # Sized so fingerprint + generators fit 15 min on 2 cores. README, "What moves transfer".
    generators=(*(GeneratorPlan(f"dcgan-s{s}", "dcgan", s, steps=5500, batch_size=32, lr=3e-4) for s in (1, 2)),
                GeneratorPlan("resnet-s1", "resnet", 1, steps=1500, width=32, discriminator="dcgan"),
                GeneratorPlan("dcgan-clean", "dcgan", 1, fingerprinted=False, steps=5500, batch_size=32, lr=3e-4)),
    n_samples=1000, image_attacks=_IMAGE_ATTACKS, image_attack_samples=500,
    model_attacks=_MODEL_ATTACKS, model_attack_targets=("dcgan-s1",),
    baselines=_BASELINES, baseline_train_per_class=1000, baseline_epochs=2, baseline_unseen=("dcgan-s2", "resnet-s1"),
    baseline_attacks=_PAPER_IMAGE_ATTACKS, baseline_attack_methods=("yu2019", "frank2020"),
    baseline_attack_samples=300, baseline_immunised=True,
    adaptive_attacks=_ADAPTIVE_ATTACKS, adaptive_samples=128, adaptive_detect_test=200, adaptive_pgd_steps=20,
    adaptive_cnn_steps=100, adversary_autoencoder_steps=300,
    adversary_fingerprint=FingerprintTrainConfig(n_bits=32, resolution=32, steps=600, batch_size=64, lr=5e-4,
                                                 output="residual", l2_await=50, l2_ramp=250, l2_weight=30,
                                                 fallback_activation_step=300, checkpoint_every=0, seed=7919),
    grid_overrides={"finetuning": (0, 500, 2000), "detectability_srm": (16, 64, 256, 768),
                    "detectability_cnn": (16, 64, 256, 768)},
))

PRESETS.add("paper", Preset(
    name="paper", resolution=128, n_bits=100, n_train=0, n_test=0, n_holdout=0, needs_data=True,
    fingerprint=FingerprintTrainConfig(n_bits=100, resolution=128, output="sigmoid"),
    generators=(GeneratorPlan("dcgan-s1", "dcgan", 1, steps=50000, width=64, latent_dim=128),
                GeneratorPlan("dcgan-s2", "dcgan", 2, steps=50000, width=64, latent_dim=128),
                GeneratorPlan("resnet-s1", "resnet", 1, steps=50000, width=64, latent_dim=128),
                GeneratorPlan("dcgan-clean", "dcgan", 1, fingerprinted=False, steps=50000, width=64,
                              latent_dim=128)),
    n_samples=10000, image_attacks=_IMAGE_ATTACKS, image_attack_samples=2000,
    model_attacks=_MODEL_ATTACKS, model_attack_targets=("dcgan-s1",),
    baselines=(*_BASELINES, "frank2020_pixels"), baseline_train_per_class=5000, baseline_epochs=10,
    baseline_unseen=("dcgan-s2", "resnet-s1"), baseline_attacks=_PAPER_IMAGE_ATTACKS,
    baseline_attack_methods=_BASELINES, baseline_attack_samples=2000, baseline_immunised=True,
    adaptive_attacks=_ADAPTIVE_ATTACKS, adaptive_samples=500, adaptive_detect_test=1000, adaptive_pgd_steps=100,
    adaptive_cnn_steps=2000, adversary_autoencoder_steps=5000,
    adversary_fingerprint=FingerprintTrainConfig(n_bits=100, resolution=128, steps=20000, output="sigmoid",
                                                 checkpoint_every=0, seed=7919),
    grid_overrides={"finetuning": (0, 1000, 5000, 20000, 50000), "detectability_srm": (16, 64, 256, 1024, 4096),
                    "detectability_cnn": (16, 64, 256, 1024, 4096)},
))


def get_preset(name: str) -> Preset:
    return PRESETS.get(name)
