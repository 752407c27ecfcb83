"""``ray``: one Ray task per run, on a local Ray instance or a running cluster (``address: auto``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import ray

from harness.config.schema import RunConfig
from harness.sweep.executors.base import Executor
from harness.sweep.run import execute_in_store


@dataclass
class RayConfig:
    address: str | None = field(default=None, metadata={"help": "A running cluster ('auto'); default: start a local instance."})
    workers: int = field(default=1, metadata={"help": "CPUs of the local instance."})
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    threads_per_run: int | None = field(default=None, metadata={"help": "torch threads per run (default: cpus_per_run)."})


class RayExecutor(Executor):
    name = "ray"
    Config = RayConfig
    description = "Ray: one task per run (num_cpus / num_gpus per run), local instance or running cluster"

    def run(self, configs: Sequence[RunConfig]) -> Iterator[dict[str, Any]]:
        config = self.config
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=config.address, include_dashboard=False, log_to_driver=False,
                     **({} if config.address else {"num_cpus": max(config.workers, 1)}))
        try:
            remote = ray.remote(num_cpus=config.cpus_per_run, num_gpus=config.gpus_per_run)(execute_in_store)
            threads = config.threads_per_run or max(1, int(config.cpus_per_run))
            pending = [remote.remote(run, threads) for run in configs]
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                yield ray.get(ready[0])
        finally:
            if started_here:
                ray.shutdown()
