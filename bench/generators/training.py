"""Adversarial training of a registered GAN on a uint8 image tensor, resumable and seed-deterministic.

One step = one D update on a real batch and a fake batch (one forward pass over both; D has no
BatchNorm) + one G update on fresh latents, both with Adam, then an EMA update of G. Randomness comes
only from the seed: model init, each epoch's data order and each step's latents use their own
CPU generators derived from ``(seed, stream, index)``, so a run resumed from a checkpoint equals the
uninterrupted run and results do not depend on the device the latents end up on. No augmentation.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.profiler import record_function
from tqdm.auto import tqdm

from fpbench.generators.checkpoint import TrainingState, load_checkpoint, save_checkpoint
from fpbench.generators.config import GanConfig
from fpbench.generators.ema import make_ema, recalibrate_batchnorm, update_ema
from fpbench.generators.losses import LOSSES
from fpbench.generators.registry import build

_MASK64 = (1 << 64) - 1
# the training loop's phases, each timed in a torch.profiler range PROFILE_PREFIX + phase (fpbench.profiling);
# "data" is entered twice a step (the real batch and D's latents, then G's latents)
PROFILE_PREFIX = "fpbench.gan."
PROFILE_PHASES = ("data", "d_forward", "d_backward", "d_optimizer", "g_forward", "g_backward", "g_optimizer", "ema",
                  "logging", "checkpoint")
_STREAM_DATA, _STREAM_Z_D, _STREAM_Z_G, _STREAM_BN = 1, 2, 3, 4


def stream_seed(seed: int, stream: int, index: int) -> int:
    """A well-mixed 63-bit seed for ``(seed, stream, index)`` (splitmix64 finaliser)."""
    x = (seed * 0x9E3779B97F4A7C15 + stream * 0xBF58476D1CE4E5B9 + index * 0x94D049BB133111EB) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (x ^ (x >> 31)) >> 1


def _cpu_gen(seed: int, stream: int, index: int) -> torch.Generator:
    return torch.Generator().manual_seed(stream_seed(seed, stream, index))


def _batch_indices(n: int, batch_size: int, seed: int, step: int) -> torch.Tensor:
    """Indices of step ``step``: consecutive slices of a per-epoch permutation (the last partial
    slice of an epoch is dropped); with fewer images than ``batch_size``, draws with replacement."""
    if n < batch_size:
        return torch.randint(n, (batch_size,), generator=_cpu_gen(seed, _STREAM_DATA, step))
    per_epoch = n // batch_size
    epoch, pos = divmod(step, per_epoch)
    perm = torch.randperm(n, generator=_cpu_gen(seed, _STREAM_DATA, -1 - epoch))
    return perm[pos * batch_size:(pos + 1) * batch_size]


@dataclass(frozen=True, eq=False)
class GanResult:
    """``generator`` is the EMA generator with recalibrated BatchNorm, in eval mode: sample and
    release this one. ``online_generator`` and ``discriminator`` are the trained networks.
    ``history``: float ``steps x 2`` (D loss, G loss) for every step since step 0 (also across resumes).
    ``steps_per_second`` counts only the steps run in this call (``start_step`` to ``config.steps``)."""

    config: GanConfig
    generator: nn.Module
    online_generator: nn.Module
    discriminator: nn.Module
    history: torch.Tensor
    start_step: int
    seconds: float
    steps_per_second: float
    checkpoint_path: str | None = field(default=None)


def _check_images(images: torch.Tensor, resolution: int) -> None:
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        raise TypeError(f"images must be a uint8 tensor, got {getattr(images, 'dtype', type(images))}")
    if images.ndim != 4 or images.shape[1] != 3 or images.shape[0] == 0:
        raise ValueError(f"images must be N x 3 x R x R with N >= 1, got shape {tuple(images.shape)}")
    if tuple(images.shape[2:]) != (resolution, resolution):
        raise ValueError(f"images are {images.shape[2]}x{images.shape[3]} but config.resolution is {resolution}")


def _networks(config: GanConfig, generator: nn.Module | None, discriminator: nn.Module | None):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(config.seed, 0, 0))
        G, D = build(config.arch, config.resolution, config.latent_dim, config.width, config.discriminator)
    if generator is not None:
        res, zdim = getattr(generator, "resolution", None), getattr(generator, "latent_dim", None)
        if res != config.resolution or zdim != config.latent_dim:
            raise ValueError(f"generator has resolution={res}, latent_dim={zdim} but the config says "
                             f"resolution={config.resolution}, latent_dim={config.latent_dim}")
        G = copy.deepcopy(generator)
    if discriminator is not None:
        D = copy.deepcopy(discriminator)
    # a released (EMA) generator is frozen: unfreeze the copies
    return G.train().requires_grad_(True), D.train().requires_grad_(True)


def _trainable_parameters(
    G: nn.Module, trainable: Callable[[str], bool] | Collection[str] | None
) -> list[nn.Parameter]:
    """The generator parameters its optimiser updates: all of them (``trainable=None``), or those whose
    name (as in ``G.named_parameters()``) is in ``trainable`` / satisfies it; the others are frozen
    (``requires_grad=False``) and keep their values exactly."""
    named = dict(G.named_parameters())
    if trainable is None:
        return list(named.values())
    if callable(trainable):
        chosen = {name for name in named if trainable(name)}
    else:
        if isinstance(trainable, str):
            raise TypeError("trainable must be a predicate or a collection of parameter names, not one string")
        chosen = set(trainable)
        unknown = sorted(chosen - set(named))
        if unknown:
            raise ValueError(f"trainable names parameters the generator does not have: {unknown[:3]} "
                             f"(its parameters: {list(named)[:5]}...)")
    if not chosen:
        raise ValueError("trainable selects no generator parameter: nothing would train")
    for name, p in named.items():
        p.requires_grad_(name in chosen)
    return [p for name, p in named.items() if name in chosen]


def train_gan(
    images_uint8: torch.Tensor,
    config: GanConfig,
    *,
    generator: nn.Module | None = None,
    discriminator: nn.Module | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
    trainable: Callable[[str], bool] | Collection[str] | None = None,
) -> GanResult:
    """Train (or continue training) a GAN on ``images_uint8`` (uint8 ``N x 3 x R x R``).

    ``generator``/``discriminator``: start from these networks instead of fresh ones (copies; the
    originals are never modified). This is how a fine-tuning attack continues adversarial training
    on other data; without a ``discriminator`` a fresh one (seeded) is built as ``config`` says.
    ``checkpoint_path``: a safetensors file written every ``config.checkpoint_every`` steps and at the
    end; if it exists, training resumes from it (its config must match, ``steps`` aside).
    ``trainable``: a predicate on, or a collection of, generator parameter names (``named_parameters()``):
    only those are updated by G's optimiser, the others stay exactly as they were (how an attack fine-tunes
    the last layers only, or only low-rank adapters). Default: every parameter. Frozen layers still run in
    train mode, so their BatchNorm statistics are updated and recalibrated like everyone's.

    >>> imgs = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    >>> res = train_gan(imgs, GanConfig(resolution=16, width=4, latent_dim=8, steps=2, batch_size=4),
    ...                 progress=False)
    >>> res.history.shape
    torch.Size([2, 2])
    """
    _check_images(images_uint8, config.resolution)
    loss = LOSSES.get(config.loss)
    device = torch.device(device)
    G, D = _networks(config, generator, discriminator)
    # channels_last: ~20% more DCGAN steps per second on CPU (oneDNN); returned networks are converted back
    G, D = (m.to(device, memory_format=torch.channels_last) for m in (G, D))
    state = TrainingState(
        generator=G, discriminator=D, ema=make_ema(G),
        # foreach: one multi-tensor update instead of a loop over parameters (CUDA's default; on CPU ~15% more
        # DCGAN steps per second at 32 px, measured A/B: docs/profile.md)
        opt_g=torch.optim.Adam(_trainable_parameters(G, trainable), lr=config.lr_g, betas=config.betas, foreach=True),
        opt_d=torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=config.betas, foreach=True),
    )
    if checkpoint_path is not None and os.path.exists(checkpoint_path):
        load_checkpoint(checkpoint_path, config, state)
    start = state.step
    history = list(state.history.unbind(0)) if state.history is not None else []
    history = history[:start]
    data = images_uint8.to(device)
    n = data.shape[0]

    t0 = time.perf_counter()
    bar = tqdm(total=config.steps, initial=min(start, config.steps), desc=f"GAN {config.arch}",
               disable=not progress, dynamic_ncols=True)
    # each phase in a profiler range of its own (PROFILE_PREFIX + phase, not nested): fpbench.profiling
    for step in range(start, config.steps):
        with record_function(PROFILE_PREFIX + "data"):
            real = data[_batch_indices(n, config.batch_size, config.seed, step).to(device)].float() / 255
            z_d = torch.randn(config.batch_size, config.latent_dim,
                              generator=_cpu_gen(config.seed, _STREAM_Z_D, step))
        with record_function(PROFILE_PREFIX + "d_forward"):
            with torch.no_grad():
                fake = G(z_d.to(device))
            logits = D(torch.cat([real, fake]))
            loss_d = loss.discriminator(logits[: len(real)], logits[len(real):])
        with record_function(PROFILE_PREFIX + "d_backward"):
            state.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
        with record_function(PROFILE_PREFIX + "d_optimizer"):
            state.opt_d.step()

        with record_function(PROFILE_PREFIX + "data"):
            z_g = torch.randn(config.batch_size, config.latent_dim,
                              generator=_cpu_gen(config.seed, _STREAM_Z_G, step))
        with record_function(PROFILE_PREFIX + "g_forward"):
            D.requires_grad_(False)
            loss_g = loss.generator(D(G(z_g.to(device))))
        with record_function(PROFILE_PREFIX + "g_backward"):
            state.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        with record_function(PROFILE_PREFIX + "g_optimizer"):
            state.opt_g.step()
            D.requires_grad_(True)
        with record_function(PROFILE_PREFIX + "ema"):
            update_ema(state.ema, G, config.ema_decay, step)

        with record_function(PROFILE_PREFIX + "logging"):  # .cpu() syncs with the device: counted here
            history.append(torch.stack([loss_d.detach(), loss_g.detach()]).float().cpu())
            state.step = step + 1
            bar.update(1)
            if progress and (state.step % 10 == 0 or state.step == config.steps):
                bar.set_postfix(loss_d=f"{history[-1][0]:.3f}", loss_g=f"{history[-1][1]:.3f}")
        if checkpoint_path is not None and (state.step % config.checkpoint_every == 0
                                            or state.step == config.steps):
            with record_function(PROFILE_PREFIX + "checkpoint"):
                state.history = torch.stack(history)
                save_checkpoint(checkpoint_path, config, state)
    bar.close()
    seconds = time.perf_counter() - t0
    ran = max(0, config.steps - start)

    final = copy.deepcopy(state.ema).to(memory_format=torch.contiguous_format)
    G, D = (m.to(memory_format=torch.contiguous_format) for m in (G, D))
    recalibrate_batchnorm(final, seed=stream_seed(config.seed, _STREAM_BN, 0), batch_size=config.batch_size)
    return GanResult(
        config=config,
        generator=final,
        online_generator=G.eval(),
        discriminator=D.eval(),
        history=torch.stack(history) if history else torch.zeros(0, 2),
        start_step=start,
        seconds=seconds,
        steps_per_second=ran / seconds if ran and seconds > 0 else float("nan"),
        checkpoint_path=None if checkpoint_path is None else str(checkpoint_path),
    )
