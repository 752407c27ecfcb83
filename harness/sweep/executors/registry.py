"""Executors by name (``harness sweep --executor NAME``), built from their settings and an ``ExecutorContext``."""

from __future__ import annotations

from typing import Any

from harness.config.registry import Registry
from harness.sweep.executors.base import Executor, ExecutorContext

EXECUTORS: Registry[type[Executor]] = Registry("executor", {
    "local": "harness.sweep.executors.local:LocalExecutor",
    "ray": "harness.sweep.executors.ray_cluster:RayExecutor",
    "slurm": "harness.sweep.executors.slurm:SlurmExecutor",
}, base=Executor, context=ExecutorContext)


def build_executor(kind: str = "local", **options: Any) -> Executor:
    """The executor ``kind`` with its ``Config`` built strictly from ``options``."""
    return EXECUTORS.build(kind, options, ExecutorContext(), prefix=f"executor {kind}")
