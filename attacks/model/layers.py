"""Which tensors model attacks touch, and the checks every model attack makes first.

Model attacks perturb the weights and biases of convolutions (``Conv1d/2d/3d``), transposed
convolutions (``ConvTranspose1d/2d/3d``) and ``Linear`` layers: the paper perturbs the generator's conv
weights and biases, and a fully connected input layer is part of most generators. Normalisation layers
(BatchNorm, InstanceNorm, LayerNorm, GroupNorm: affine parameters and running statistics), embeddings and
any other tensors are left untouched unless an attack's docstring says otherwise (``weight_averaging``
interpolates every floating-point entry of the state dict). A layer whose weight is computed by a
parametrization (spectral norm, weight norm) is refused with a ValueError rather than silently left alone.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

from torch import Tensor, nn

#: Layer types whose ``weight`` and ``bias`` model attacks perturb (checked with ``isinstance``).
TARGET_LAYERS: tuple[type[nn.Module], ...] = (nn.modules.conv._ConvNd, nn.Linear)


def require_module(model: object, attack: str) -> nn.Module:
    """Return ``model`` if it is an ``nn.Module``; otherwise raise a ValueError that says what it got."""
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"{attack}: model attacks need a callable generator (an nn.Module), not "
            f"{type(model).__name__}"
            + (" (images go to image attacks)" if isinstance(model, Tensor) else "")
        )
    return model


def target_layers(model: nn.Module, attack: str) -> list[tuple[str, nn.Module]]:
    """The (name, layer) pairs an attack perturbs, in registration order; raise if there are none."""
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, TARGET_LAYERS)]
    if not layers:
        raise ValueError(
            f"{attack}: {type(model).__name__} has no Conv/ConvTranspose/Linear layers to perturb"
        )
    for name, layer in layers:
        for pname in ("weight", "bias"):
            value = getattr(layer, pname, None)
            if value is not None and not isinstance(value, nn.Parameter):
                # a computed weight (spectral/weight norm): changing it in place would do nothing
                raise ValueError(
                    f"{attack}: {name or 'the model'}.{pname} is computed (a parametrization such as "
                    "spectral or weight norm), not stored; remove it first, e.g. with "
                    "torch.nn.utils.parametrize.remove_parametrizations"
                )
    return layers


def target_tensors(model: nn.Module, attack: str) -> Iterator[tuple[str, nn.Parameter]]:
    """Yield ``("layer.weight", p)`` and ``("layer.bias", p)`` for every target layer (bias if present)."""
    for name, layer in target_layers(model, attack):
        for pname in ("weight", "bias"):
            p = getattr(layer, pname, None)
            if isinstance(p, nn.Parameter):
                yield (f"{name}.{pname}" if name else pname), p


def output_channel_dim(layer: nn.Module) -> int:
    """The weight dimension that indexes output channels: 1 for transposed convs (in x out/groups x k...),
    0 for convs and linear layers (out x in ...)."""
    return 1 if isinstance(layer, nn.modules.conv._ConvTransposeNd) else 0


def fresh_copy(model: object, attack: str) -> nn.Module:
    """A deep copy of a checked model: attacks change the copy, never their input."""
    return copy.deepcopy(require_module(model, attack))
