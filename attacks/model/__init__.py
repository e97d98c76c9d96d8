"""Model-level attacks: each takes a generator (``nn.Module``) and returns a perturbed deep copy.

Importing this package registers every model attack in :mod:`attacks.registry`. Which tensors are touched
is described in :mod:`attacks.model.layers`; the attacks that train share :mod:`attacks.model.training`.
"""

from fpbench.attacks.model import (
    averaging,
    distillation,
    fine_pruning,
    finetuning,
    last_layers,
    lora,
    noise,
    pruning,
    quantization,
    rounding,
)
from fpbench.attacks.model.layers import TARGET_LAYERS, require_module

__all__ = [
    "TARGET_LAYERS", "averaging", "distillation", "fine_pruning", "finetuning", "last_layers", "lora", "noise",
    "pruning", "quantization", "require_module", "rounding",
]
