"""Running a sweep's runs against a run store: skip finished runs, lock each run, isolate failures.

A run folder's state is read from its files: ``metrics.json`` (done), a held ``.lock`` (running,
possibly in another process), ``error.json`` (failed, with the traceback), ``checkpoint.pt`` (partial:
resumes from its last completed iteration) or nothing (pending). Two sweep processes pointed at the
same store never run one run twice: each run is guarded by an exclusive, non-blocking ``flock``.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from harness.config import RunConfig
from harness.io import write_json_atomic

DONE, RUNNING, FAILED, PARTIAL, PENDING = "done", "running", "failed", "partial", "pending"
LOCK_FILE, ERROR_FILE, METRICS_FILE = ".lock", "error.json", "metrics.json"


@contextmanager
def run_lock(folder: Path) -> Iterator[bool]:
    """Yields True when this process holds the run's lock, False when another process does."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / LOCK_FILE, "a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


def lock_is_held(folder: Path) -> bool:
    path = folder / LOCK_FILE
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


def run_state(folder: Path) -> str:
    if (folder / METRICS_FILE).exists():
        return DONE
    if lock_is_held(folder):
        return RUNNING
    if (folder / ERROR_FILE).exists():
        return FAILED
    if (folder / "checkpoint.pt").exists():
        return PARTIAL
    return PENDING


def execute_in_store(config: RunConfig, threads: int | None = None, progress: bool = False) -> dict[str, Any]:
    """Run one config in its folder unless it is finished or locked; never raises for a failing run.

    Returns {"status": done|skipped|busy|failed, "out", "seconds", "error"?}. Picklable, so every
    executor (process pool, Ray, submitit) calls this same function.
    """
    if threads:
        import torch

        torch.set_num_threads(threads)
    folder = Path(config.out)
    started = time.perf_counter()
    if (folder / METRICS_FILE).exists():
        return {"status": "skipped", "out": str(folder), "seconds": 0.0}
    with run_lock(folder) as held:
        if not held:
            return {"status": "busy", "out": str(folder), "seconds": 0.0}
        if (folder / METRICS_FILE).exists():  # finished by another process between the check and the lock
            return {"status": "skipped", "out": str(folder), "seconds": 0.0}
        (folder / ERROR_FILE).unlink(missing_ok=True)
        try:
            from harness.run import execute_run

            metrics = execute_run(config, progress=progress)
        except Exception as error:  # a failing run is recorded; the sweep goes on
            record = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc(),
                      "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
            write_json_atomic(folder / ERROR_FILE, record)
            return {"status": "failed", "out": str(folder), "seconds": time.perf_counter() - started,
                    "error": record["error"]}
    return {"status": "done", "out": str(folder), "seconds": time.perf_counter() - started,
            "test": {k: v for k, v in metrics["test"].items() if k in ("accuracy", "score", "mean_output_chars")}}


def read_error(folder: Path) -> str:
    try:
        return json.loads((folder / ERROR_FILE).read_text())["error"]
    except (OSError, ValueError, KeyError):
        return ""
