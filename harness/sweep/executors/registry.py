"""Executors by name (``harness sweep --executor NAME``)."""

from __future__ import annotations

from typing import Any

from harness.config.registry import Registry
from harness.sweep.executors.base import Executor

EXECUTORS: Registry[type[Executor]] = Registry("executor", {
    "local": "harness.sweep.executors.local:LocalExecutor",
    "ray": "harness.sweep.executors.ray_cluster:RayExecutor",
    "slurm": "harness.sweep.executors.slurm:SlurmExecutor",
}, base=Executor)


def build_executor(kind: str = "local", **options: Any) -> Executor:
    """The executor ``kind`` with its ``Config`` built strictly from ``options``."""
    return EXECUTORS.get(kind)(EXECUTORS.parse(kind, options, prefix=f"executor {kind}"))
