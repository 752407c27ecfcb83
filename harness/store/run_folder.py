"""One run folder's state, read from its files: ``metrics.json`` (done, when it parses and names the method, task
and seed of the folder's ``config.json``; an unreadable one counts as unfinished), a held lock (running,
possibly in another process or on another machine), ``error.json`` (failed, with the traceback), ``checkpoint.pt``
(partial: resumes from its last completed iteration) or nothing (pending). Two sweep processes pointed at the same
store, on one machine or on two sharing it over a network filesystem, never run one run twice: each run is guarded
by ``run_lock`` (``harness.store.lock``: a ``flock`` where the filesystem keeps one, and a lease with a heartbeat)."""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

from harness.common.files import read_json
from harness.store.format import recorded_format, resolved_locations
from harness.store.layout import CHECKPOINT, CONFIG, DONE, ERROR, FAILED, METRICS, PARTIAL, PENDING, RUNNING
from harness.store.lock import lock_is_held, run_lock  # noqa: F401  (run_lock: executors and tests import it from here)


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


def stored_config(folder: Path) -> dict[str, Any] | None:
    """A run's stored ``config.json`` (its config, environment, ...), or None (with one warning) when it is missing
    or unreadable; its config's folders are where the run folder now is (``resolved_locations``). One written in
    a newer store format than this harness reads is a ConfigError naming the file."""
    path = Path(folder) / CONFIG
    if not path.exists():
        return None
    try:
        stored = read_json(path)
        if not isinstance(stored.get("config"), dict) or "method" not in stored["config"]:
            raise KeyError("config")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
        warnings.warn(f"{path}: unreadable ({type(error).__name__}: {error}); the run is listed without its settings",
                      RuntimeWarning, stacklevel=2)
        return None
    recorded_format(path, stored)
    return {**stored, "config": resolved_locations(stored["config"], Path(folder))}
