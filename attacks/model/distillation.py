"""Distillation (model stealing): a fresh student generator trained only on the fingerprinted generator's
outputs. Does the fingerprint survive when the adversary copies what the model does, not its weights?

The student has the teacher's architecture (built from ``gan_config``, newly initialised from the seed)
and is trained by direct regression: for fresh latents ``z`` every step, minimise the mean squared error
between ``student(z)`` and ``teacher(z)`` (the teacher in eval mode). Chosen over a GAN run on teacher
samples because the adversary who owns the weights can query any latent, and a paired regression
target is far more sample-efficient than an adversarial one: at quick scale (32 px DCGAN, batch 32, a
teacher trained 300 steps) the student's mean squared error to the teacher falls from 0.060 at its new init
to 0.0012 after 250 steps, 0.0008 after 1000 and 0.0005 after 2000 (the teacher's output variance is
0.046), while 2000 steps of a GAN trained from scratch on the teacher's samples are a third of the 5500
steps quick trains its generators for. It needs no real images and no discriminator.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fpbench.attacks.model.layers import fresh_copy
from fpbench.attacks.model.threats import FID_BUDGET
from fpbench.attacks.model.training import check_config, check_steps, fresh_generator, model_device
from fpbench.attacks.registry import ThreatCard, register_attack

#: Adam's learning rate for the regression (higher than GAN training's: a supervised target is stable)
LEARNING_RATE = 1e-3
STEPS_GRID = (100, 300, 1000, 3000)


@register_attack(
    "distillation", kind="model", param="steps", unit="regression steps of a fresh student on teacher outputs",
    grid=STEPS_GRID, neutral=None, domain=(0, 10_000_000), category="stealing", integer=True,
    description="Model stealing: a freshly initialised generator of the same architecture (context: "
    "gan_config) regressed onto the fingerprinted generator's outputs for fresh latents; never sees real data.",
    needs=("gan_config",), optional=("device",),
    threat=ThreatCard("grey-box", data="the generator's own samples (fresh latents each step, no real images)",
                      compute="`steps` regression steps of a student generator at the model's batch size "
                      "(one teacher forward pass per step)", quality=FID_BUDGET),
)
def distillation(
    model: nn.Module,
    steps: int,
    *,
    seed: int = 0,
    gan_config: Any = None,
    device: str | torch.device | None = None,
) -> nn.Module:
    """Return a student generator: ``gan_config``'s architecture, newly initialised from ``seed``, trained for
    ``steps`` Adam steps (lr :data:`LEARNING_RATE`, the config's betas and batch size) to minimise
    ``mean((student(z) - model(z))^2)`` on fresh standard-normal latents drawn from ``seed``. ``model`` is
    the teacher, queried in eval mode and never modified; the student's BatchNorm statistics are recalibrated
    at the end (as for trained generators) and it is returned in eval mode with gradients off.

    ``steps=0`` is the untrained student (a new init, unrelated to the teacher): distillation has no
    neutral value. The teacher's state dict must match the config's architecture (ValueError otherwise).
    """
    teacher = fresh_copy(model, "distillation")
    steps = check_steps(steps, "distillation")
    config = check_config(gan_config, "distillation")
    from fpbench.generators import recalibrate_batchnorm
    from fpbench.generators.training import stream_seed

    student = fresh_generator(teacher, config, seed, "distillation")
    device = torch.device(model_device(teacher, device))
    teacher.to(device).eval().requires_grad_(False)
    student.to(device).train().requires_grad_(True)
    opt = torch.optim.Adam(student.parameters(), lr=LEARNING_RATE, betas=config.betas)
    gen = torch.Generator().manual_seed(stream_seed(int(seed), 5, 0))
    for _ in range(steps):
        z = torch.randn(config.batch_size, config.latent_dim, generator=gen).to(device)
        with torch.no_grad():
            target = teacher(z)
        loss = torch.mean((student(z) - target) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    recalibrate_batchnorm(student, seed=stream_seed(int(seed), 4, 0), batch_size=config.batch_size)
    return student.eval().requires_grad_(False)
