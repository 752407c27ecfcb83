"""The run store's layout, in one place: where a sweep keeps each file, and what a run folder's files say.

``<out>/<sweep>/`` holds ``sweep.json`` (the manifest: the sweep config and every run's id and folder),
one folder per run ``<task>/<method label>[@axis=value,...]/seed<k>/``, the judged comparisons under
``comparisons/``, the shared content cache under ``.cache/`` and the report under ``report/``.

A run folder's state is read from its files: ``metrics.json`` (done, when it parses and names the method,
task and seed of the folder's ``config.json``; an unreadable one counts as unfinished), a held ``.lock`` (running,
possibly in another process), ``error.json`` (failed, with the traceback), ``checkpoint.pt`` (partial:
resumes from its last completed iteration) or nothing (pending). Two sweep processes pointed at the
same store never run one run twice: each run is guarded by an exclusive, non-blocking ``flock``.
Nothing here imports torch: the report reads the store through this module.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from harness.common.files import read_json
from harness.config.errors import ConfigError

# a sweep folder
MANIFEST, REPORT_DIR, CACHE_DIR, COMPARISONS_DIR = "sweep.json", "report", ".cache", "comparisons"
CONTENT_CACHE = "content.sqlite"
# a run folder
CONFIG, METRICS, ITERATIONS, SELECTIONS = "config.json", "metrics.json", "iterations.jsonl", "selections.jsonl"
RM_SCORES, TEST_SELECTIONS, TASK_DATA = "rm_scores.jsonl", "test_selections.jsonl", "task_data.json"
RUN_LOG, CHECKPOINT, LOCK, ERROR = "run.log", "checkpoint.pt", ".lock", "error.json"
PROFILE = "profile.json"   # the on-policy RM competence the run was measured against (harness.profile)
PLAN = "plan.json"         # on a GPU: the memory plan the run followed (harness.plan)
LM_EVAL = "lm_eval.json"   # lm-evaluation-harness results of the run's final policy (harness.lmeval)
# a comparison folder
ANNOTATIONS, WINRATES = "annotations.json", "winrates.json"

DONE, RUNNING, FAILED, PARTIAL, PENDING = "done", "running", "failed", "partial", "pending"


def read_manifest(root: Path) -> dict[str, Any]:
    """A sweep folder's ``sweep.json``; a missing or unreadable one is a ConfigError naming the file."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{path}: not found; point at a sweep folder (<out>/<sweep name>)")
    try:
        manifest = read_json(path)
        if not isinstance(manifest.get("runs"), list) or not all(isinstance(run, dict) and "out" in run for run in manifest["runs"]):
            raise ValueError("expected a 'runs' list of run entries with 'out'")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as error:
        raise ConfigError(f"{path}: unreadable sweep manifest ({type(error).__name__}: {error}); repair or "
                          "remove it (the run folders are untouched)") from None
    return manifest


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


def _read_result(folder: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(metrics, None) for a trustworthy ``metrics.json``, (None, why not) for one that is not, (None, None)
    when there is none yet."""
    path = folder / METRICS
    if not path.exists():
        return None, None
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return None, f"unreadable ({type(error).__name__}: {error})"
    if not isinstance(metrics, dict) or not isinstance(metrics.get("test"), dict):
        return None, "no 'test' block"
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))["config"]
    except FileNotFoundError:
        return metrics, None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        return None, f"its {CONFIG} is unreadable ({type(error).__name__}: {error})"
    expected = {"method": config.get("method", {}).get("name"), "task": config.get("task", {}).get("name"),
                "seed": config.get("seed")}
    differs = [f"{key} {metrics.get(key)!r} (config: {value!r})" for key, value in expected.items()
               if key in metrics and metrics[key] != value]
    return (None, f"does not match {CONFIG}: " + ", ".join(differs)) if differs else (metrics, None)


def finished_metrics(folder: Path) -> dict[str, Any] | None:
    """The run's metrics when it has a trustworthy result, else None; an untrustworthy ``metrics.json`` (it
    does not parse, or names another method, task or seed than its ``config.json``) is named in a warning
    (once per file: see below)."""
    metrics, problem = _read_result(folder)
    if problem is not None:
        # issued from this one line whoever asks, so Python shows each file's warning once per process
        warnings.warn(f"{folder / METRICS}: {problem}; the run counts as unfinished (a sweep re-runs it)", RuntimeWarning)
    return metrics


def is_finished(folder: Path) -> bool:
    return finished_metrics(folder) is not None


def set_aside_result(folder: Path) -> None:
    """Move the ``metrics.json`` of a run found unfinished out of the way (kept for inspection) before it is redone."""
    path = folder / METRICS
    if path.exists():
        os.replace(path, folder / f"{METRICS}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")


def run_state(folder: Path) -> str:
    if is_finished(folder):
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
