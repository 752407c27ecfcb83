"""The runs of a store: what its manifest lists (or, without one, every folder holding a ``config.json``), where
each lives, and each one's state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.common.files import read_jsonl
from harness.config.errors import ConfigError
from harness.store.layout import CONFIG, DONE, FAILED, ITERATIONS, MANIFEST
from harness.store.manifest import read_manifest
from harness.store.run_folder import finished_metrics, read_error, run_state


def run_folder(root: Path, run: dict[str, Any]) -> Path:
    """Where a listed run lives: its id under the store, wherever the store now is (a format-1 manifest's
    recorded ``out`` named the same folder where the store was written, and is not used)."""
    return Path(root) / run["run_id"]


def run_folders(root: Path) -> list[dict[str, Any]]:
    """The runs a sweep manifest lists, or, without one, every folder holding a config.json."""
    if (root / MANIFEST).exists():
        return read_manifest(root)["runs"]
    runs = []
    for config_file in sorted(root.rglob(CONFIG)):
        folder = config_file.parent
        relative = folder.relative_to(root).as_posix()
        parts = relative.split("/")
        runs.append({"run_id": relative, "task": parts[0] if len(parts) == 3 else "", "method": parts[1] if len(parts) == 3 else relative,
                     "seed": None, "axes": {}})
    return runs


def finished_run_folders(path: Path) -> list[Path]:
    """The run folder itself, or the finished runs of a run store."""
    if (path / CONFIG).exists():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"{path}: no run or sweep folder there")
    finished = [folder for folder in (run_folder(path, run) for run in run_folders(path)) if finished_metrics(folder) is not None]
    if not finished:
        raise ConfigError(f"{path}: no finished run to evaluate")
    return finished


@dataclass(frozen=True)
class RunStatus:
    """A listed run's state, and a short detail: its headline test metrics, its error, or its iterations so far."""

    run_id: str
    state: str
    detail: str


def run_statuses(root: str | Path) -> list[RunStatus]:
    """The state of every run a sweep's manifest lists; a manifest listing none is a ConfigError."""
    statuses = []
    for run in read_manifest(Path(root))["runs"]:
        folder = run_folder(Path(root), run)
        state = run_state(folder)
        detail = ""
        if state == DONE:
            test = finished_metrics(folder)["test"]
            detail = ", ".join(f"{k}={test[k]:.4f}" for k in ("accuracy", "score", "mean_output_chars") if k in test)
        elif state == FAILED:
            detail = read_error(folder)[:80]
        elif (folder / ITERATIONS).exists():
            detail = f"{len(read_jsonl(folder / ITERATIONS))} iteration(s)"
        statuses.append(RunStatus(run["run_id"], state, detail))
    if not statuses:
        raise ConfigError(f"{Path(root) / MANIFEST}: the sweep lists no runs")
    return statuses
