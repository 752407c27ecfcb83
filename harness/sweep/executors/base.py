"""Where a sweep's runs execute. An executor hands every run config to ``harness.run.in_store.execute_in_store``
and yields the results as they finish, so locking, skipping and failure records behave the same
everywhere. Nothing here schedules: a process pool, Ray or Slurm does. An executor is built from its settings
and an ``ExecutorContext`` through ``from_config`` (``harness.sweep.executors.registry.build_executor``)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Sequence

from harness.config.errors import ConfigError
from harness.config.registry import NoArgs
from harness.config.schema import RunConfig
from harness.plan.estimate import GIB, planned_models
from harness.plan.placement import choose, device_with_memory


@dataclass
class ExecutorContext:
    """What an executor is built from besides its settings: nothing yet."""


class Executor:
    """Runs a sweep's run configs; ``Config`` holds its settings (the CLI flags of ``harness sweep``)."""

    name: ClassVar[str] = ""
    Config: ClassVar[type] = NoArgs
    description: ClassVar[str] = ""
    on_this_machine: ClassVar[bool] = False  # runs see this process's files and caches (shared setup is done here)

    @classmethod
    def from_config(cls, config: Any, context: ExecutorContext) -> Executor:
        return cls(config)

    def __init__(self, config: Any):
        self.config = config

    @property
    def workers(self) -> int:
        return int(getattr(self.config, "workers", 1))

    def run(self, configs: Sequence[RunConfig]) -> Iterator[dict[str, Any]]:
        raise NotImplementedError


def threads_per_run(workers: int, threads: int | None = None) -> int:
    """torch threads of each run: as given, else the machine's cores shared between the workers."""
    return threads or max(1, (os.cpu_count() or 1) // max(1, workers))


@dataclass(frozen=True)
class PlannedResources:
    """What a run asks a cluster for, from its memory plan (``harness.plan``)."""

    gpus: int
    gpu_memory_gib: int     # the plan's peak on one GPU, rounded up: the smallest GPU that fits it
    host_memory_gib: int    # pinned copies of offloaded RMs (rounded up to powers of two by the allocator) + headroom


def planned_resources(config: RunConfig, gpu_memory_gib: float | None = None) -> PlannedResources:
    """The GPUs and memory ``config`` needs on a GPU of ``gpu_memory_gib`` (default: the config's, else 80 GiB); a
    run that cannot fit even there is refused in one line before anything is submitted."""
    plan = choose(config, device_with_memory(gpu_memory_gib or config.memory.gpu_memory_gib))
    if not plan.fits:
        raise ConfigError(f"run {config.out}: {plan.refusal}")
    host = 16.0
    if plan.decisions.offload_reward_models:
        for model in planned_models(config)[1]:
            host += 2 ** math.ceil(math.log2(max(model.weight_bytes / GIB, 1.0)))
    return PlannedResources(plan.gpus, math.ceil(plan.peak_bytes / GIB), math.ceil(host))
