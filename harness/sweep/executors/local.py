"""``local``: runs one after another in this process, or in N spawned worker processes.

Workers die with their sweep (``harness.common.processes.die_with_parent``), so a sweep killed even by
``kill -9`` leaves no orphan training on and holding its run's lock. Runs are handed out one at
a time, as workers become free, so nothing is queued to a worker that is about to die.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from harness.common.processes import die_with_parent
from harness.config.schema import RunConfig
from harness.run.in_store import execute_in_store
from harness.sweep.executors.base import Executor, threads_per_run


@dataclass
class LocalConfig:
    workers: int = field(default=1, metadata={"help": "Worker processes (1: runs one after another here)."})
    threads_per_run: int | None = field(default=None, metadata={"help": "torch threads per run (default: cores / workers)."})


class LocalExecutor(Executor):
    name = "local"
    Config = LocalConfig
    description = "this machine: runs in sequence, or in N spawned worker processes"
    on_this_machine = True

    def run(self, configs: Sequence[RunConfig]) -> Iterator[dict[str, Any]]:
        threads = threads_per_run(self.config.workers, self.config.threads_per_run)
        if self.config.workers <= 1:
            for config in configs:
                yield execute_in_store(config, threads)
            return
        waiting = list(configs)[::-1]
        with ProcessPoolExecutor(max_workers=self.config.workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
            running: set[Future] = set()
            while waiting or running:
                while waiting and len(running) < self.config.workers:
                    running.add(pool.submit(execute_in_store, waiting.pop(), threads))
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()
