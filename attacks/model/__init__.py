"""Model-level attacks: each takes a generator (``nn.Module``) and returns a perturbed deep copy.

Importing this package registers every model attack in :mod:`attacks.registry`. Which tensors are touched
is described in :mod:`attacks.model.layers`.
"""

from fpbench.attacks.model import averaging, finetuning, noise, pruning, quantization, rounding
from fpbench.attacks.model.layers import TARGET_LAYERS, require_module

__all__ = ["TARGET_LAYERS", "averaging", "finetuning", "noise", "pruning", "quantization", "require_module", "rounding"]
