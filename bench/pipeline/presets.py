"""Run presets: the shipped run configs (``fpbench.pipeline.config.RunConfig``), by name.

- ``smoke``: the whole path end to end in well under a minute (tests).
- ``quick``: the README's main job on the built-in offline data, 32x32, all four built-in methods; 52.6 min
  cold on 2 CPU cores at 24.8 DCGAN steps/s (the paper's method 33 min of it; docs/results-quick.md).
- ``paper``: the paper's settings (128x128, 100-bit fingerprints, sigmoid encoder, authors' schedule) on a
  user-supplied image folder (``--data``), meant for a GPU.
"""

from __future__ import annotations

from fpbench.fingerprint.training import FingerprintTrainConfig
from fpbench.pipeline.config import (
    SEED_STRIDE,
    AdaptiveConfig,
    BaselineConfig,
    DataConfig,
    EvaluationConfig,
    GeneratorPlan,
    ImageAttackConfig,
    ModelAttackConfig,
    RunConfig,
    ZooConfig,
)
from fpbench.registry import Registry

__all__ = ["PRESETS", "SEED_STRIDE", "GeneratorPlan", "RunConfig", "get_preset"]


PRESETS: Registry[RunConfig] = Registry("preset")

_MODEL_ATTACKS = ("weight_noise", "weight_noise_relative", "weight_rounding", "weight_quantization",
                  "weight_quantization_per_channel", "pruning", "channel_pruning", "weight_averaging",
                  "model_soup", "finetuning", "lora_finetuning", "finetune_last_layers", "retrain_last_layers",
                  "fine_pruning", "distillation")
# the training attacks at quick scale: ~0.07 s a GAN step on 2 cores (0.04 s for the last layers only, 0.02 s
# a distillation step), each grid value measured on 1000 samples with FID
_QUICK_MODEL_GRIDS = {"finetuning": (0, 500, 2000), "lora_finetuning": (100, 500), "finetune_last_layers": (100, 500),
                      "retrain_last_layers": (100, 500), "fine_pruning": (0.5, 0.9), "distillation": (2000,),
                      "model_soup": (0.25, 0.5)}

_IMAGE_ATTACKS = ("gaussian_noise", "gaussian_blur", "jpeg", "center_crop", "resize", "rotation",
                  "brightness", "contrast", "saturation", "sharpness", "median_filter", "erasing",
                  "combo_crop_brightness_jpeg", "horizontal_flip", "perspective", "hue", "gamma", "overlay_text",
                  "webp", "random_resized_crop", "translation", "collage", "salt_pepper", "bilateral",
                  "combo_geometric_photometric", "combo_degradation")

_METHODS = ("artificial_fingerprint", "artificial_fingerprint_immunised", "lsb", "dct_qim")
_CHEAP_MODEL_ATTACKS = ("weight_noise", "weight_quantization", "pruning")

_BASELINES = ("yu2019", "wang2020", "frank2020", "durall2020", "marra2019")
# every method meets the adversary; the CNN detector (~1 min a method) and the white-box bound (the paper's
# networks only) stay the paper method's in quick
_PER_METHOD_ADAPTIVE = ("overwrite", "surrogate_pgd", "regeneration", "purification", "embedding_pgd_autoencoder",
                        "embedding_pgd_surrogate", "averaging", "forgery_surrogate", "forgery_copy", "detectability_srm")
_PAPER_IMAGE_ATTACKS = ("gaussian_noise", "gaussian_blur", "jpeg", "center_crop")  # paper Fig. 3

_ADAPTIVE_ATTACKS = ("overwrite", "surrogate_pgd", "whitebox_pgd", "regeneration", "purification",
                     "embedding_pgd_autoencoder", "embedding_pgd_resnet18", "embedding_pgd_surrogate", "averaging",
                     "forgery_surrogate", "forgery_copy", "detectability_srm", "detectability_cnn")

PRESETS.add("smoke", RunConfig(
    name="smoke",
    data=DataConfig(resolution=16, n_train=512, n_test=128, n_holdout=64),
    fingerprint=FingerprintTrainConfig(n_bits=16, resolution=16, steps=400, batch_size=32, lr=1e-3,
                                       output="residual", l2_await=20, l2_ramp=100, l2_weight=30,
                                       checkpoint_every=200, target_psnr=26.0, hardening_steps=200, hardening_ema=0.98),
    # three generators that learn the fingerprint, so the regression gate can see transfer get worse (it
    # reads their pooled `zoo` row). One 1500-step DCGAN at 30 dB transferred 0.80-0.91 and float order
    # alone moved it (seed 0: 0.911 with one thread, 0.799 with two): a tolerance of 0.168. A louder
    # fingerprint (26 dB), a hardened decoder (200 steps; the stamped photos, and so the generators, are the
    # same without it) and three generators pooled (256 samples each) narrow that (README, "The CI gate").
    zoo=ZooConfig(generators=(
        *(GeneratorPlan(f"dcgan-s{i}", "dcgan", i, steps=1500, width=16, latent_dim=16, batch_size=32, lr=3e-4)
          for i in range(3)),
        GeneratorPlan("dcgan-clean", "dcgan", 0, fingerprinted=False, steps=600, width=16, latent_dim=16,
                      batch_size=32, lr=3e-4)), n_samples=256),
    image_attacks=ImageAttackConfig(attacks=("gaussian_noise", "jpeg"), samples=32),
    model_attacks=ModelAttackConfig(attacks=("weight_noise", "finetuning")),
    # the CNN baselines cannot learn from 64 images per class at 16 px (validation at chance, so no result):
    # their code runs in tests/stages/test_baselines_stage.py and in quick
    baselines=BaselineConfig(methods=("frank2020", "marra2019"), train_per_class=64, epochs=1,
                             unseen=("dcgan-s0",), attacks=("gaussian_noise", "jpeg"),
                             attack_methods=("frank2020",), attack_samples=32, immunised=True),
    adaptive=AdaptiveConfig(
        attacks=_ADAPTIVE_ATTACKS, samples=16, detect_test=16, pgd_steps=5, cnn_steps=20, autoencoder_steps=20,
        denoiser_steps=20,
        adversary=FingerprintTrainConfig(n_bits=16, resolution=16, steps=20, batch_size=16, lr=5e-4,
                                         output="residual", l2_await=5, l2_ramp=10, fallback_activation_step=10,
                                         checkpoint_every=0, seed=7919)),
    evaluation=EvaluationConfig(alpha=1e-3, grids={
        "gaussian_noise": (0.0, 0.1), "jpeg": (90, 50), "weight_noise": (0.0, 0.1), "finetuning": (5,),
        "overwrite": (0.0, 1.0), "surrogate_pgd": (8,), "whitebox_pgd": (8,), "regeneration": (0.1,),
        "purification": (0.05,), "embedding_pgd_autoencoder": (8,), "embedding_pgd_resnet18": (8,),
        "embedding_pgd_surrogate": (8,),
        "averaging": (8, 32), "forgery_surrogate": (32,), "forgery_copy": (32,), "detectability_srm": (8, 32),
        "detectability_cnn": (32,)}),
))

PRESETS.add("quick", RunConfig(
    name="quick",
    data=DataConfig(resolution=32, n_train=20000, n_test=1000, n_holdout=2000),
    fingerprint=FingerprintTrainConfig(n_bits=48, resolution=32, steps=1200, batch_size=64, lr=5e-4,
                                       output="residual", l2_await=100, l2_ramp=400, l2_weight=15,
                                       checkpoint_every=200, hardening_steps=400, hardening_ema=0.98,
                                       target_psnr=32.0),
    # DCGANs learn the fingerprint with the number of updates: batch 64 x 3750 steps left 1-2.6% of samples
    # short of the zoo's attribution threshold, batch 32 x 5000 at lr 3e-4 0.2-0.8% in about the same time.
    # The ResNet G learns the fingerprint only against a strided-conv D (its own average-pooling D is blind
    # to it: 0.52), 1500 steps: 100% pass. Trained one after another on both cores: two worker processes
    # (workers=2) run batch-32 DCGANs 19% faster but the ResNet 2.4x slower, no gain for this zoo.
    # Sized so fingerprint + generators fit 15 min on 2 cores. docs/transfer.md, "What moves transfer".
    zoo=ZooConfig(generators=(
        *(GeneratorPlan(f"dcgan-s{s}", "dcgan", s, steps=5500, batch_size=32, lr=3e-4) for s in (1, 2)),
        GeneratorPlan("resnet-s1", "resnet", 1, steps=1500, width=32, discriminator="dcgan"),
        GeneratorPlan("dcgan-clean", "dcgan", 1, fingerprinted=False, steps=5500, batch_size=32, lr=3e-4)),
        n_samples=1000),
    # the paper's method with the full zoo; the immunised fingerprint and the two classical negative controls
    # each with dcgan-s1 (the same plan: transfer compares like with like) and the shared clean control, and
    # the model attacks that cost seconds (fine-tuning, ~100 s a method, is the paper's method's)
    methods=_METHODS,
    image_attacks=ImageAttackConfig(attacks=_IMAGE_ATTACKS, samples=500),
    model_attacks=ModelAttackConfig(attacks=_MODEL_ATTACKS, targets=("dcgan-s1",), per_method=_CHEAP_MODEL_ATTACKS),
    baselines=BaselineConfig(methods=_BASELINES, train_per_class=1000, epochs=20, unseen=("dcgan-s2", "resnet-s1"),
                             attacks=_PAPER_IMAGE_ATTACKS, attack_methods=("yu2019", "frank2020"),
                             attack_samples=300, immunised=True),
    adaptive=AdaptiveConfig(
        attacks=_ADAPTIVE_ATTACKS, per_method=_PER_METHOD_ADAPTIVE, samples=128, detect_test=200, pgd_steps=20,
        cnn_steps=100, autoencoder_steps=300, denoiser_steps=400,
        adversary=FingerprintTrainConfig(n_bits=32, resolution=32, steps=600, batch_size=64, lr=5e-4,
                                         output="residual", l2_await=50, l2_ramp=250, l2_weight=30,
                                         fallback_activation_step=300, checkpoint_every=0, seed=7919)),
    evaluation=EvaluationConfig(grids={**_QUICK_MODEL_GRIDS, "embedding_pgd_resnet18": (4, 8), "detectability_srm": (16, 64, 256, 768),
                                       "detectability_cnn": (16, 64, 256, 768)}),
))

PRESETS.add("paper", RunConfig(
    name="paper",
    data=DataConfig(resolution=128, n_train=0, n_test=0, n_holdout=0, needs_data=True),
    fingerprint=FingerprintTrainConfig(n_bits=100, resolution=128, output="sigmoid"),
    zoo=ZooConfig(generators=(
        GeneratorPlan("dcgan-s1", "dcgan", 1, steps=50000, width=64, latent_dim=128),
        GeneratorPlan("dcgan-s2", "dcgan", 2, steps=50000, width=64, latent_dim=128),
        GeneratorPlan("resnet-s1", "resnet", 1, steps=50000, width=64, latent_dim=128),
        GeneratorPlan("dcgan-clean", "dcgan", 1, fingerprinted=False, steps=50000, width=64, latent_dim=128)),
        n_samples=10000),
    image_attacks=ImageAttackConfig(attacks=_IMAGE_ATTACKS, samples=2000),
    model_attacks=ModelAttackConfig(attacks=_MODEL_ATTACKS, targets=("dcgan-s1",)),
    baselines=BaselineConfig(methods=(*_BASELINES, "frank2020_pixels"), train_per_class=5000, epochs=10,
                             unseen=("dcgan-s2", "resnet-s1"), attacks=_PAPER_IMAGE_ATTACKS,
                             attack_methods=_BASELINES, attack_samples=2000, immunised=True),
    adaptive=AdaptiveConfig(
        attacks=_ADAPTIVE_ATTACKS, samples=500, detect_test=1000, pgd_steps=100, cnn_steps=2000,
        autoencoder_steps=5000, denoiser_steps=5000,
        adversary=FingerprintTrainConfig(n_bits=100, resolution=128, steps=20000, output="sigmoid",
                                         checkpoint_every=0, seed=7919)),
    evaluation=EvaluationConfig(grids={"finetuning": (0, 1000, 5000, 20000, 50000),
                                       "lora_finetuning": (0, 1000, 5000, 20000), "finetune_last_layers": (0, 1000, 5000),
                                       "retrain_last_layers": (0, 1000, 5000, 20000),
                                       "distillation": (1000, 5000, 20000, 50000),
                                       "detectability_srm": (16, 64, 256, 1024, 4096),
                                       "detectability_cnn": (16, 64, 256, 1024, 4096)}),
))


def get_preset(name: str) -> RunConfig:
    return PRESETS.get(name)
