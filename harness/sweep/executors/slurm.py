"""``slurm``: a Slurm job array through submitit (``cluster: local`` runs submitit's local executor)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import submitit

from harness.config.schema import RunConfig
from harness.run.in_store import execute_in_store
from harness.sweep.executors.base import Executor, planned_resources


@dataclass
class SlurmConfig:
    folder: str = field(default="slurm_logs", metadata={"help": "submitit's log and pickle folder."})
    cluster: str | None = field(default=None, metadata={"help": "submitit cluster: default auto (Slurm), 'local' for testing."})
    workers: int = field(default=1, metadata={"help": "Array parallelism: runs at once."})
    threads_per_run: int = 1
    parameters: dict[str, Any] = field(default_factory=dict, metadata={"help": "submitit parameters (e.g. slurm_partition)."})
    gpus_from_plan: bool = field(default=False, metadata={
        "help": "Ask for the GPUs and host memory the runs' memory plans need (the most any run of the array needs: "
                "gpus_per_node, mem_gb), unless parameters give them (--gpus-per-run plan)."})


class SlurmExecutor(Executor):
    name = "slurm"
    Config = SlurmConfig
    description = "Slurm via submitit: one array job per sweep, one task per run"

    def planned_parameters(self, configs: Sequence[RunConfig]) -> dict[str, Any]:
        """submitit's ``gpus_per_node`` and ``mem_gb`` for the most demanding run's plan (an array job asks for one
        size), and a line saying the GPU memory the partition's GPUs need."""
        if not self.config.gpus_from_plan or not configs:
            return {}
        needs = [planned_resources(run) for run in configs]
        gpu_memory = max(need.gpu_memory_gib for need in needs)
        print(f"slurm: each task asks for {max(n.gpus for n in needs)} GPU(s) and {max(n.host_memory_gib for n in needs)} GB "
              f"of host memory; its plan needs GPUs of at least {gpu_memory} GiB (choose the partition accordingly)")
        return {"gpus_per_node": max(need.gpus for need in needs), "mem_gb": max(need.host_memory_gib for need in needs)}

    def run(self, configs: Sequence[RunConfig]) -> Iterator[dict[str, Any]]:
        config = self.config
        submit = submitit.AutoExecutor(folder=config.folder, cluster=config.cluster)
        parameters = {"timeout_min": 24 * 60, **self.planned_parameters(configs), **config.parameters}
        if config.cluster != "local":
            parameters.setdefault("slurm_array_parallelism", max(1, config.workers))
        submit.update_parameters(**parameters)
        jobs = submit.map_array(execute_in_store, list(configs), [config.threads_per_run] * len(configs))
        for job in jobs:
            yield job.result()
