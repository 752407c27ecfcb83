"""The run store's layout, in one place: where a sweep keeps each file, and what a run folder's files say.

``<out>/<sweep>/`` holds ``sweep.json`` (the manifest: the sweep config and every run's id and folder),
one folder per run ``<task>/<method label>[@axis=value,...]/seed<k>/``, the judged comparisons under
``comparisons/``, the shared content cache under ``.cache/`` and the report under ``report/``.

A run folder's state is read from its files: ``metrics.json`` (done), a held ``.lock`` (running,
possibly in another process), ``error.json`` (failed, with the traceback), ``checkpoint.pt`` (partial:
resumes from its last completed iteration) or nothing (pending). Two sweep processes pointed at the
same store never run one run twice: each run is guarded by an exclusive, non-blocking ``flock``.
Nothing here imports torch: the report reads the store through this module.
"""

from __future__ import annotations

import fcntl
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from harness.common.files import read_json

# a sweep folder
MANIFEST, REPORT_DIR, CACHE_DIR, COMPARISONS_DIR = "sweep.json", "report", ".cache", "comparisons"
CONTENT_CACHE = "content.sqlite"
# a run folder
CONFIG, METRICS, ITERATIONS, SELECTIONS = "config.json", "metrics.json", "iterations.jsonl", "selections.jsonl"
RM_SCORES, TEST_SELECTIONS, TASK_DATA = "rm_scores.jsonl", "test_selections.jsonl", "task_data.json"
RUN_LOG, CHECKPOINT, LOCK, ERROR = "run.log", "checkpoint.pt", ".lock", "error.json"
PROFILE = "profile.json"   # the on-policy RM competence the run was measured against (harness.profile)
# a comparison folder
ANNOTATIONS, WINRATES = "annotations.json", "winrates.json"

DONE, RUNNING, FAILED, PARTIAL, PENDING = "done", "running", "failed", "partial", "pending"


def predictions_file(task: str | None = None) -> str:
    """The test predictions of a run on its own task, or on an out-of-distribution ``task``."""
    return "predictions.jsonl" if task is None else f"predictions_{task}.jsonl"


def safe_name(text: Any) -> str:
    """A folder name: anything but letters, digits and ``._=,+@-`` becomes ``-``."""
    return re.sub(r"[^A-Za-z0-9._=,+@-]+", "-", str(text))


def axes_suffix(axes: dict[str, Any]) -> str:
    return ("@" + ",".join(f"{k}={v}" for k, v in axes.items())) if axes else ""


def run_id(task: str, label: str, axes: dict[str, Any], seed: int) -> str:
    """``<task>/<method label>[@axes]/seed<k>``, a run's folder relative to its sweep folder."""
    return f"{safe_name(task)}/{safe_name(label + axes_suffix(axes))}/seed{seed}"


def comparison_folder(root: Path, task: str, model: str, baseline: str, axes: dict[str, Any], seed: int) -> Path:
    return root / COMPARISONS_DIR / safe_name(task) / safe_name(f"{model}__vs__{baseline}{axes_suffix(axes)}") / f"seed{seed}"


@contextmanager
def run_lock(folder: Path) -> Iterator[bool]:
    """Yields True when this process holds the run's lock, False when another process does."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / LOCK, "a+")
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
    path = folder / LOCK
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
    if (folder / METRICS).exists():
        return DONE
    if lock_is_held(folder):
        return RUNNING
    if (folder / ERROR).exists():
        return FAILED
    if (folder / CHECKPOINT).exists():
        return PARTIAL
    return PENDING


def read_error(folder: Path) -> str:
    try:
        return read_json(folder / ERROR)["error"]
    except (OSError, ValueError, KeyError):
        return ""
