"""Where a sweep's runs execute. An executor hands every run config to ``harness.sweep.run.execute_in_store``
and yields the results as they finish, so locking, skipping and failure records behave the same
everywhere. Nothing here schedules: a process pool, Ray or Slurm does."""

from __future__ import annotations

import os
from typing import Any, ClassVar, Iterator, Sequence

from harness.config.registry import NoArgs
from harness.config.schema import RunConfig


class Executor:
    """Runs a sweep's run configs; ``Config`` holds its settings (the CLI flags of ``harness sweep``)."""

    name: ClassVar[str] = ""
    Config: ClassVar[type] = NoArgs
    description: ClassVar[str] = ""
    on_this_machine: ClassVar[bool] = False  # runs see this process's files and caches (shared setup is done here)

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
