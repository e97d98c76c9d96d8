"""Generator architectures, GAN training and sampling.

``GENERATORS`` maps an architecture id ("dcgan", "resnet") to a factory
``(resolution, latent_dim, width) -> (G, D)``; G maps ``B x latent_dim`` latents to ``B x 3 x R x R``
images in [0, 1] (tanh mapped), D maps such images to ``B`` logits.
"""

from fpbench.generators import dcgan, resnet  # noqa: F401  (register the architectures)
from fpbench.generators.config import GanConfig
from fpbench.generators.ema import make_ema, recalibrate_batchnorm, update_ema
from fpbench.generators.losses import LOSSES, GanLoss
from fpbench.generators.registry import GENERATORS, build, check_resolution
from fpbench.generators.sampling import sample, sample_latents
from fpbench.generators.training import GanResult, train_gan

__all__ = [
    "GENERATORS", "LOSSES", "GanConfig", "GanLoss", "GanResult", "build", "check_resolution",
    "make_ema", "recalibrate_batchnorm", "sample", "sample_latents", "train_gan", "update_ema",
]
