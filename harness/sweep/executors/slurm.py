"""``slurm``: a Slurm job array through submitit (``cluster: local`` runs submitit's local executor)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import submitit

from harness.config.schema import RunConfig
from harness.sweep.executors.base import Executor
from harness.sweep.run import execute_in_store


@dataclass
class SlurmConfig:
    folder: str = field(default="slurm_logs", metadata={"help": "submitit's log and pickle folder."})
    cluster: str | None = field(default=None, metadata={"help": "submitit cluster: default auto (Slurm), 'local' for testing."})
    workers: int = field(default=1, metadata={"help": "Array parallelism: runs at once."})
    threads_per_run: int = 1
    parameters: dict[str, Any] = field(default_factory=dict, metadata={"help": "submitit parameters (e.g. slurm_partition)."})


class SlurmExecutor(Executor):
    name = "slurm"
    Config = SlurmConfig
    description = "Slurm via submitit: one array job per sweep, one task per run"

    def run(self, configs: Sequence[RunConfig]) -> Iterator[dict[str, Any]]:
        config = self.config
        submit = submitit.AutoExecutor(folder=config.folder, cluster=config.cluster)
        parameters = {"timeout_min": 24 * 60, **config.parameters}
        if config.cluster != "local":
            parameters.setdefault("slurm_array_parallelism", max(1, config.workers))
        submit.update_parameters(**parameters)
        jobs = submit.map_array(execute_in_store, list(configs), [config.threads_per_run] * len(configs))
        for job in jobs:
            yield job.result()
