"""Where training time goes: the phases of the fingerprint and GAN training loops (issue 20).

:func:`fpbench.fingerprint.training.train_fingerprint` and :func:`fpbench.generators.training.train_gan`
run each phase of a step (data, forward, backward, optimizer, EMA, logging, checkpoint; the GAN's D and G
updates apart) in a ``torch.profiler.record_function`` range named ``PROFILE_PREFIX + phase``. The ranges
are not nested, cost nothing measurable when no profiler runs and change no result: weights are
bit-identical with and without one. :func:`profile_phases` runs a function under the profiler and adds the
ranges up; :func:`phase_rows` turns that into a table (``scripts/profile_training.py`` prints it).

CPU activity only: on an accelerator a range times what the CPU spends in it (dispatch, and the waits of
the ``.item()`` / ``.cpu()`` synchronisations, which are in "logging"), not the device's kernels. The profiler
itself slows the ops it records (tens of percent for small networks), so compare shares, not absolute
times with an unprofiled run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from torch.profiler import ProfilerActivity, profile

from fpbench.fingerprint import training as _fingerprint_training
from fpbench.generators import training as _gan_training

__all__ = ["LOOPS", "phase_rows", "profile_phases"]

# loop name -> (label prefix, phases in step order)
LOOPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "fingerprint": (_fingerprint_training.PROFILE_PREFIX, _fingerprint_training.PROFILE_PHASES),
    "gan": (_gan_training.PROFILE_PREFIX, _gan_training.PROFILE_PHASES),
}


def profile_phases(fn: Callable[[], Any], *, prefix: str) -> dict[str, Any]:
    """Run ``fn()`` under ``torch.profiler.profile(activities=[CPU])``. Returns a dict with
    ``"phases"``: total CPU time in ms of each ``record_function`` label starting with ``prefix``
    (full label -> ms, over every time it was entered), ``"calls"``: how many times each was entered,
    ``"wall_s"``: wall seconds of ``fn()`` and ``"result"``: what ``fn()`` returned.

    >>> import torch
    >>> def work():
    ...     with torch.profiler.record_function("demo.mul"):
    ...         return (torch.ones(4) * 2).sum().item()
    >>> out = profile_phases(work, prefix="demo.")
    >>> out["result"], list(out["phases"]), out["calls"]["demo.mul"]
    (8.0, ['demo.mul'], 1)
    """
    if not prefix:
        raise ValueError("prefix must name the labels to add up, e.g. 'fpbench.gan.'")
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        result = fn()
        wall = time.perf_counter() - t0
    phases: dict[str, float] = {}
    calls: dict[str, int] = {}
    for event in prof.key_averages():
        if event.key.startswith(prefix):
            phases[event.key] = phases.get(event.key, 0.0) + event.cpu_time_total / 1000.0  # us -> ms
            calls[event.key] = calls.get(event.key, 0) + event.count
    return {"phases": phases, "calls": calls, "wall_s": wall, "result": result}


def phase_rows(loop: str, profiled: dict[str, Any], steps: int) -> list[dict[str, Any]]:
    """Table rows of one loop (a key of :data:`LOOPS`) from :func:`profile_phases`'s dict: one per phase
    in step order (0 ms for a phase that never ran, e.g. no checkpoint was due), then ``other`` (wall time
    outside every phase: setup, the post-loop work, the loop itself) and ``wall``. Each row has ``loop``,
    ``phase``, ``ms`` (total), ``ms_per_step``, ``share`` (of wall time, 0-1) and ``calls``."""
    if loop not in LOOPS:
        raise ValueError(f"unknown loop {loop!r}; choose from {', '.join(LOOPS)}")
    if steps <= 0:
        raise ValueError(f"steps must be > 0, got {steps}")
    prefix, phases = LOOPS[loop]
    wall_ms = profiled["wall_s"] * 1000.0
    unknown = sorted(set(profiled["phases"]) - {prefix + p for p in phases})
    names = [*phases, *(label[len(prefix):] for label in unknown)]

    def row(phase: str, ms: float, calls: int) -> dict[str, Any]:
        return {"loop": loop, "phase": phase, "ms": ms, "ms_per_step": ms / steps,
                "share": ms / wall_ms if wall_ms > 0 else float("nan"), "calls": calls}

    rows = [row(p, profiled["phases"].get(prefix + p, 0.0), profiled["calls"].get(prefix + p, 0)) for p in names]
    rows.append(row("other", wall_ms - sum(r["ms"] for r in rows), 0))
    rows.append(row("wall", wall_ms, 1))
    return rows
