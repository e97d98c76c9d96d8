"""Where a run's independent jobs execute (``executor:`` in a run config, ``--executor`` on the command line).

The jobs: generator trainings (``stages.generators``; ``local`` also runs them in ``zoo.workers`` processes),
baseline fits (``stages.baselines``) and model-attack cells (``stages.model_attacks``: one target x attack x
severity each; attack, sample, decode, FID features). Each is a module-level function of plain picklable
values (configs, state dicts, tensors, ids), never the run's context. Image-attack cells stay in the driver:
they take milliseconds each, less than a Ray task costs.

``local`` runs them in this process, or in ``zoo.workers`` spawned processes on this machine; ``ray`` submits
each as a Ray task with declared resources to the cluster at ``executor.address`` (a local one when empty).
A pool bounds the jobs in flight (so at most that many training sets are loaded at once) and hands results
back as they finish, so the caller caches each at once and a failure later loses nothing already done.
Ray retries a task whose worker died (``executor.max_retries``); an exception raised by the job itself is
not retried and reaches the caller. Results do not depend on the executor: a job computes the same thing
wherever it runs, given the same number of torch threads (float summation order).

Ray is optional (``pip install 'fpbench[ray]'``): nothing here imports it unless the run asks for it.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Protocol

from tqdm.auto import tqdm

from fpbench.pipeline.config import ConfigError, ExecutorConfig

KINDS = ("local", "ray")
RAY_INSTALL = "pip install 'fpbench[ray]'"


def executor_problems(config: ExecutorConfig) -> list[str]:
    """What is wrong with ``config`` (empty when nothing): checked before any stage runs."""
    from fpbench.registry import did_you_mean

    problems = []
    if config.kind not in KINDS:
        problems.append(f"executor.kind {config.kind!r} is not one of {', '.join(KINDS)}."
                        + did_you_mean(config.kind, KINDS))
    elif config.kind == "ray" and importlib.util.find_spec("ray") is None:
        problems.append(f"executor.kind 'ray' needs Ray, which is not installed: {RAY_INSTALL}")
    if config.address and config.kind != "ray":
        problems.append(f"executor.address ({config.address!r}) is for the ray executor: "
                        "add --executor ray, or drop --ray-address")
    if config.cpus_per_task < 1:
        problems.append(f"executor.cpus_per_task must be >= 1, got {config.cpus_per_task}")
    if config.max_retries < 0:
        problems.append(f"executor.max_retries must be >= 0, got {config.max_retries}")
    return problems


class Pool(Protocol):
    """Runs ``fn(*args)`` jobs somewhere else: ``slots`` of them at once, each on ``threads`` torch threads."""

    slots: int
    threads: int

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def finished(self, handles: list[Any]) -> list[Any]: ...

    def result(self, handle: Any) -> Any: ...

    def close(self) -> None: ...


class ProcessPool:
    """``workers`` spawned processes on this machine sharing ``threads`` torch threads."""

    def __init__(self, workers: int, threads: int) -> None:
        self.slots, self.threads = workers, max(1, threads // workers)
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self._pool.submit(fn, *args)

    def finished(self, handles: list[Any]) -> list[Any]:
        return list(wait(handles, return_when=FIRST_COMPLETED)[0])

    def result(self, handle: Any) -> Any:
        return handle.result()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


def connect_ray(config: ExecutorConfig) -> None:
    """Connect to the Ray cluster at ``config.address`` ("" starts a local one) unless this process already
    is: called before any stage, so an unreachable cluster costs nothing already computed."""
    import ray

    if ray.is_initialized():
        return
    try:
        ray.init(address=config.address or None, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    except ConnectionError as exc:
        raise ConfigError(
            f"cannot reach the Ray cluster at {config.address!r} ({exc}): start it with `ray start --head` and "
            "check the address. A cluster with token authentication (Ray >= 2.59 turns it on for clusters "
            "started by `ray start`) also needs RAY_AUTH_MODE=token and its token (RAY_AUTH_TOKEN, or "
            "~/.ray/auth_token) where fpbench runs") from None


class RayPool:
    """Ray tasks of ``config.cpus_per_task`` CPUs (and one GPU each on a CUDA run) on the cluster at
    ``config.address`` ("" starts a local one; a Ray already initialised in this process is used as it is).
    Slots: as many tasks as the cluster has room for, so the driver never holds every job's data at once."""

    def __init__(self, config: ExecutorConfig, device: str = "cpu") -> None:
        import ray

        connect_ray(config)
        self._ray = ray
        gpus = 1 if device.startswith("cuda") else 0
        self._options = {"num_cpus": config.cpus_per_task, "num_gpus": gpus, "max_retries": config.max_retries}
        self._remote: dict[Callable[..., Any], Any] = {}  # fn -> its Ray remote function, made once
        cpus = ray.cluster_resources().get("CPU", 1)
        self.threads = config.cpus_per_task
        self.slots = max(1, int(cpus // config.cpus_per_task))
        self.resources = {"cluster_cpus": cpus, "cpus_per_task": config.cpus_per_task, "gpus_per_task": gpus,
                          "max_retries": config.max_retries}

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        if fn not in self._remote:
            self._remote[fn] = self._ray.remote(**self._options)(fn)
        return self._remote[fn].remote(*args)

    def finished(self, handles: list[Any]) -> list[Any]:
        return self._ray.wait(handles, num_returns=1)[0]

    def result(self, handle: Any) -> Any:
        return self._ray.get(handle)

    def close(self) -> None:
        pass  # the cluster outlives the run: other runs (and their cache) may share it


def unordered(pool: Pool, fn: Callable[..., Any], jobs: Iterable[tuple[Any, Callable[[], tuple]]], *,
              desc: str, unit: str, total: int, progress: bool) -> Iterator[tuple[Any, Any]]:
    """``(name, fn(*make_args()))`` for each ``(name, make_args)`` of ``jobs``, in the order they finish.
    ``make_args`` is called only when a slot is free, so at most ``pool.slots`` jobs' arguments (their
    training sets) exist at once. A progress bar counts finished jobs; the first job to fail raises here
    (the others are cancelled or left to finish on their own)."""
    queue, running = iter(jobs), {}

    def submit_next() -> None:
        item = next(queue, None)
        if item is not None:
            name, make_args = item
            running[pool.submit(fn, *make_args())] = name

    try:
        with tqdm(total=total, desc=desc, unit=unit, disable=not progress, dynamic_ncols=True) as bar:
            for _ in range(pool.slots):
                submit_next()
            while running:
                for handle in pool.finished(list(running)):
                    name = running.pop(handle)
                    yield name, pool.result(handle)
                    bar.update(1)
                    submit_next()
    finally:
        pool.close()
