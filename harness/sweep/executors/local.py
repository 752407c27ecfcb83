"""``local``: runs one after another in this process, or in N spawned worker processes."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from harness.config.schema import RunConfig
from harness.sweep.executors.base import Executor, threads_per_run
from harness.sweep.run import execute_in_store


@dataclass
class LocalConfig:
    workers: int = field(default=1, metadata={"help": "Worker processes (1: runs one after another here)."})
    threads_per_run: int | None = field(default=None, metadata={"help": "torch threads per run (default: cores / workers)."})


class LocalExecutor(Executor):
    name = "local"
    Config = LocalConfig
    description = "this machine: runs in sequence, or in N spawned worker processes"

    def run(self, configs: Sequence[RunConfig]) -> Iterator[dict[str, Any]]:
        threads = threads_per_run(self.config.workers, self.config.threads_per_run)
        if self.config.workers <= 1:
            for config in configs:
                yield execute_in_store(config, threads)
            return
        with ProcessPoolExecutor(max_workers=self.config.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(execute_in_store, config, threads) for config in configs]
            for future in as_completed(futures):
                yield future.result()
