"""Adaptive attacks: what an informed adversary does against the fingerprint.

Importing this package registers every adaptive attack in :mod:`attacks.registry` (kind ``adaptive``).
Calling convention ``fn(images, <param>=value, *, seed, **context) -> images`` on Bx3xHxW float in
[0,1]; ``context`` carries the adversary's tools by name:

- ``surrogate_encoder`` / ``surrogate_decoder``: the adversary's own fingerprint codec, trained on
  disjoint data (:mod:`attacks.adaptive.adversary`);
- ``victim_decoder``: the victim's true decoder (white-box upper bound only);
- ``autoencoder``: the adversary's regeneration autoencoder;
- ``denoiser``: the adversary's Gaussian denoiser (purification);
- ``pool``: other images carrying the same fingerprint that the adversary observed;
- ``pgd_steps``: PGD iterations.

Every attack carries a threat card (``spec.threat``): knowledge, data, compute and quality budget.

Categories: ``removal`` (overwrite, surrogate_pgd, whitebox_pgd, embedding_pgd_autoencoder,
embedding_pgd_resnet18, embedding_pgd_surrogate, regeneration, purification, averaging), ``forgery``
(forgery_surrogate, forgery_copy: innocent images in, forged images out) and ``detectability``
(detectability_srm, detectability_cnn), whose functions return one score per image instead of images:
see :mod:`attacks.adaptive.detectability`.
"""

from fpbench.attacks.adaptive.averaging import averaging, estimate_pattern
from fpbench.attacks.adaptive.denoiser import Denoiser, train_denoiser
from fpbench.attacks.adaptive.detectability import (
    amplitude_spectrum,
    detectability_cnn,
    detectability_srm,
    srm_features,
)
from fpbench.attacks.adaptive.embedding import (
    embedding_pgd_autoencoder,
    embedding_pgd_resnet18,
    embedding_pgd_surrogate,
    random_resnet18,
)
from fpbench.attacks.adaptive.forgery import forgery_copy, forgery_surrogate
from fpbench.attacks.adaptive.overwrite import overwrite
from fpbench.attacks.adaptive.pgd import pgd_linf, pgd_scramble, round_in_ball, surrogate_pgd, whitebox_pgd
from fpbench.attacks.adaptive.purification import purification
from fpbench.attacks.adaptive.regeneration import RegenerationAutoencoder, regeneration, train_autoencoder

__all__ = [
    "Denoiser", "RegenerationAutoencoder", "amplitude_spectrum", "averaging", "detectability_cnn",
    "detectability_srm", "embedding_pgd_autoencoder", "embedding_pgd_resnet18", "embedding_pgd_surrogate",
    "estimate_pattern", "forgery_copy", "forgery_surrogate", "overwrite", "pgd_linf", "pgd_scramble", "purification",
    "random_resnet18", "regeneration", "round_in_ball", "srm_features", "surrogate_pgd", "train_autoencoder",
    "train_denoiser", "whitebox_pgd",
]
