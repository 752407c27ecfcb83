"""What a run's numbers depend on besides its config: the code's revision, the package versions and the machine
(CPU, the vector instructions torch's kernels use, threads, GPU); recorded in every run's ``config.json``."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch


def environment_info() -> dict[str, Any]:
    versions = {}
    for package in ("harness", "torch", "transformers", "peft", "datasets", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        revision = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                  cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        revision = None
    return {"git_revision": revision, "versions": versions, "python": platform.python_version(),
            "cuda": torch.cuda.is_available(), "machine": machine_info()}


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """What a CPU run's floating-point results depend on besides the code and versions: the CPU, the vector
    instructions torch's kernels use on it (AVX2, AVX512, ...: another set sums in another order) and the
    threads; and the GPU, when there is one."""
    info: dict[str, Any] = {"cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                            "torch_threads": torch.get_num_threads(), "system": platform.system()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
