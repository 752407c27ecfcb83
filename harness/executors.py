"""Where a sweep's runs execute: here (sequentially or in N processes), on Ray, or on Slurm via submitit.

Every executor calls ``harness.runner.execute_in_store`` on each run config and yields the results as
they finish, so locking, skipping and failure records behave the same everywhere. Nothing here
schedules: the process pool, Ray and Slurm do.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from harness.config import RunConfig
from harness.runner import execute_in_store

EXECUTORS = ("local", "ray", "slurm")


@dataclass
class ExecutorConfig:
    kind: str = "local"
    workers: int = 1
    threads_per_run: int | None = None
    ray_address: str | None = None          # None: a local Ray instance; "auto": the running cluster
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    slurm_folder: str = "slurm_logs"
    slurm_cluster: str | None = None          # None: Slurm when present; "local": submitit's local executor
    slurm_parameters: dict[str, Any] = field(default_factory=dict)


def _threads(config: ExecutorConfig) -> int:
    if config.threads_per_run:
        return config.threads_per_run
    return max(1, (os.cpu_count() or 1) // max(1, config.workers))


def run_all(configs: Sequence[RunConfig], executor: ExecutorConfig) -> Iterator[dict[str, Any]]:
    if executor.kind == "local":
        yield from _local(configs, executor)
    elif executor.kind == "ray":
        yield from _ray(configs, executor)
    elif executor.kind == "slurm":
        yield from _slurm(configs, executor)
    else:
        from harness.registry import unknown_name_message

        raise ValueError(unknown_name_message("executor", executor.kind, EXECUTORS))


def _local(configs, executor: ExecutorConfig):
    threads = _threads(executor)
    if executor.workers <= 1:
        for config in configs:
            yield execute_in_store(config, threads)
        return
    import multiprocessing

    with ProcessPoolExecutor(max_workers=executor.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(execute_in_store, config, threads) for config in configs]
        for future in as_completed(futures):
            yield future.result()


def _ray(configs, executor: ExecutorConfig):
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=executor.ray_address, include_dashboard=False, log_to_driver=False,
                 **({} if executor.ray_address else {"num_cpus": max(executor.workers, 1)}))
    try:
        remote = ray.remote(num_cpus=executor.cpus_per_run, num_gpus=executor.gpus_per_run)(execute_in_store)
        threads = executor.threads_per_run or max(1, int(executor.cpus_per_run))
        pending = [remote.remote(config, threads) for config in configs]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            yield ray.get(ready[0])
    finally:
        if started_here:
            ray.shutdown()


def _slurm(configs, executor: ExecutorConfig):
    import submitit

    submit = submitit.AutoExecutor(folder=executor.slurm_folder, cluster=executor.slurm_cluster)
    parameters = {"timeout_min": 24 * 60, **executor.slurm_parameters}
    if executor.slurm_cluster != "local":
        parameters.setdefault("slurm_array_parallelism", max(1, executor.workers))
    submit.update_parameters(**parameters)
    threads = executor.threads_per_run or 1
    jobs = submit.map_array(execute_in_store, list(configs), [threads] * len(configs))
    for job in jobs:
        yield job.result()
