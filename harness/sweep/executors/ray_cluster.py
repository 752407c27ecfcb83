"""``ray``: one Ray task per run, on a local Ray instance or a running cluster (``address: auto``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import ray

from harness.config.schema import RunConfig
from harness.run.in_store import execute_in_store
from harness.sweep.executors.base import Executor, planned_resources


@dataclass
class RayConfig:
    address: str | None = field(default=None, metadata={"help": "A running cluster ('auto'); default: start a local instance."})
    workers: int = field(default=1, metadata={"help": "CPUs of the local instance."})
    cpus_per_run: float = 1.0
    gpus_per_run: float | None = field(default=0.0, metadata={
        "help": "GPUs per run; null (--gpus-per-run plan): each run's own count from its memory plan (a run whose RMs "
                "need a second GPU gets two)."})
    threads_per_run: int | None = field(default=None, metadata={"help": "torch threads per run (default: cpus_per_run)."})


class RayExecutor(Executor):
    name = "ray"
    Config = RayConfig
    description = "Ray: one task per run (num_cpus / num_gpus per run, or each run's planned GPUs), local instance or running cluster"

    def gpus_of(self, run: RunConfig) -> float:
        """The GPUs a run asks Ray for: the flag's, or with ``gpus_per_run: null`` its memory plan's."""
        if self.config.gpus_per_run is not None:
            return self.config.gpus_per_run
        return float(planned_resources(run).gpus)

    def run(self, configs: Sequence[RunConfig]) -> Iterator[dict[str, Any]]:
        config = self.config
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=config.address, include_dashboard=False, log_to_driver=False,
                     **({} if config.address else {"num_cpus": max(config.workers, 1)}))
        try:
            remote = ray.remote(num_cpus=config.cpus_per_run)(execute_in_store)
            threads = config.threads_per_run or max(1, int(config.cpus_per_run))
            pending = [remote.options(num_gpus=self.gpus_of(run)).remote(run, threads) for run in configs]
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                yield ray.get(ready[0])
        finally:
            if started_here:
                ray.shutdown()
