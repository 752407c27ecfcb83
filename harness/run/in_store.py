"""A run inside a run store, as every executor (process pool, Ray, submitit) calls it: skipped when finished,
guarded by the run's lock, and a failure recorded in ``error.json`` instead of raised."""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

import torch

from harness.common.files import write_json_atomic
from harness.config.schema import RunConfig
from harness.models.quiet import quiet_libraries
from harness.run.execute import execute_run
from harness.store.layout import ERROR
from harness.store.run_folder import is_finished, run_lock, set_aside_result


def execute_in_store(config: RunConfig, threads: int | None = None, progress: bool = False) -> dict[str, Any]:
    """Run one config in its folder unless it is finished or locked; never raises for a failing run.

    Returns {"status": done|skipped|busy|failed, "out", "seconds", "error"?}. Picklable, so every
    executor (process pool, Ray, submitit) calls this same function.
    """
    quiet_libraries()  # a worker process starts with the libraries' defaults
    if threads:
        torch.set_num_threads(threads)
    folder = Path(config.out)
    started = time.perf_counter()
    if is_finished(folder):
        return {"status": "skipped", "out": str(folder), "seconds": 0.0}
    with run_lock(folder) as held:
        if not held:
            return {"status": "busy", "out": str(folder), "seconds": 0.0}
        if is_finished(folder):  # finished by another process between the check and the lock
            return {"status": "skipped", "out": str(folder), "seconds": 0.0}
        set_aside_result(folder)  # not finished, so any metrics.json is untrustworthy: kept beside, the run redone
        (folder / ERROR).unlink(missing_ok=True)
        try:
            metrics = execute_run(config, progress=progress)
        except Exception as error:  # a failing run is recorded; the sweep goes on
            record = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc(),
                      "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
            write_json_atomic(folder / ERROR, record)
            return {"status": "failed", "out": str(folder), "seconds": time.perf_counter() - started,
                    "error": record["error"]}
    return {"status": "done", "out": str(folder), "seconds": time.perf_counter() - started,
            "test": {k: v for k, v in metrics["test"].items() if k in ("accuracy", "score", "mean_output_chars")}}
