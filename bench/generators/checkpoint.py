"""GAN training checkpoints: one safetensors file, written atomically, nothing unpickled on load.

Keys: ``G.*``, ``D.*``, ``G_ema.*`` (state dicts), ``opt_g.<i>.<name>`` / ``opt_d.<i>.<name>`` (Adam
state per parameter index; the hyperparameters are rebuilt from the config), ``step`` (int64, steps
done) and ``history`` (float32 ``steps x 2``: discriminator and generator loss per step). The metadata
holds the :class:`GanConfig` as JSON and a format tag.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from fpbench.atomic import write_atomic
from fpbench.generators.config import GanConfig

FORMAT = "fpbench-gan-checkpoint-v1"


def _optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for idx, state in opt.state_dict()["state"].items():
        for name, value in state.items():
            out[f"{prefix}.{idx}.{name}"] = _packed(value)
    return out


def _load_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    sd = opt.state_dict()
    sd["state"] = state
    opt.load_state_dict(sd)


def _packed(value: object) -> torch.Tensor:
    """A CPU copy in the standard layout (safetensors refuses channels_last or shared tensors)."""
    return torch.as_tensor(value).detach().cpu().contiguous().clone()


def _module_tensors(prefix: str, module: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": _packed(v) for k, v in module.state_dict().items()}


def _load_module(prefix: str, module: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    n = len(prefix) + 1
    module.load_state_dict({k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")})


@dataclass
class TrainingState:
    """What a checkpoint restores: the modules and optimizers are updated in place."""

    generator: nn.Module
    discriminator: nn.Module
    ema: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    step: int = 0
    history: torch.Tensor | None = None


def save_checkpoint(path: str | os.PathLike[str], config: GanConfig, state: TrainingState) -> Path:
    tensors = {
        **_module_tensors("G", state.generator),
        **_module_tensors("D", state.discriminator),
        **_module_tensors("G_ema", state.ema),
        **_optimizer_tensors("opt_g", state.opt_g),
        **_optimizer_tensors("opt_d", state.opt_d),
        "step": torch.tensor([state.step], dtype=torch.int64),
        "history": (state.history if state.history is not None else torch.zeros(0, 2)).float().contiguous(),
    }
    metadata = {"format": FORMAT, "config": config.to_json()}
    return write_atomic(path, lambda p: save_file(tensors, str(p), metadata=metadata))


def read_checkpoint_config(path: str | os.PathLike[str]) -> GanConfig:
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not an fpbench GAN checkpoint (format {meta.get('format')!r})")
    return GanConfig.from_dict(json.loads(meta["config"]))


def load_checkpoint(path: str | os.PathLike[str], config: GanConfig, state: TrainingState) -> TrainingState:
    """Restore ``state`` from ``path`` after checking that the checkpoint's config matches ``config``
    (all fields but ``steps`` and ``checkpoint_every``)."""
    saved = read_checkpoint_config(path)
    diff = config.mismatches(saved)
    if diff:
        raise ValueError(f"checkpoint {path} was written with a different config: {'; '.join(diff)} "
                         "(current != checkpoint). Delete it or use another checkpoint_path.")
    tensors = load_file(str(path), device="cpu")
    _load_module("G", state.generator, tensors)
    _load_module("D", state.discriminator, tensors)
    _load_module("G_ema", state.ema, tensors)
    _load_optimizer("opt_g", state.opt_g, tensors)
    _load_optimizer("opt_d", state.opt_d, tensors)
    state.step = int(tensors["step"][0])
    state.history = tensors["history"]
    return state
