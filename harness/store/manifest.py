"""A sweep folder's manifest, ``sweep.json``: the sweep config and every run's id (its folder is ``<store>/<run id>``),
so ``status`` and ``report`` work from the store alone, wherever it has been moved; a later sweep on the same store
adds its runs to the earlier ones. It records the store format and the harness version that wrote it
(``harness.store.format``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from harness.common.files import read_json, write_json_atomic
from harness.config.errors import ConfigError
from harness.store.format import recorded_format, written_by
from harness.store.layout import MANIFEST


def read_manifest(root: Path) -> dict[str, Any]:
    """A sweep folder's ``sweep.json``; a missing or unreadable one is a ConfigError naming the file."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{path}: not found; point at a sweep folder (<out>/<sweep name>)")
    try:
        manifest = read_json(path)
        if not isinstance(manifest.get("runs"), list) or not all(isinstance(run, dict) and "run_id" in run for run in manifest["runs"]):
            raise ValueError("expected a 'runs' list of run entries with 'run_id'")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as error:
        raise ConfigError(f"{path}: unreadable sweep manifest ({type(error).__name__}: {error}); repair or "
                          "remove it (the run folders are untouched)") from None
    recorded_format(path, manifest)  # a newer format is refused here
    for run in manifest["runs"]:
        run_id = run["run_id"]
        if not isinstance(run_id, str) or not run_id or Path(run_id).is_absolute() or ".." in Path(run_id).parts:
            raise ConfigError(f"{path}: run_id: expected a folder inside the store (<task>/<label>/seed<k>), got {run_id!r}")
    return manifest


def write_manifest(root: Path, header: dict[str, Any], runs: list[dict[str, Any]], previous: dict[str, Any] | None) -> None:
    """Write ``sweep.json``: ``header`` (the sweep's name, source and config) and its ``runs``, merged with the
    ``previous`` manifest (``read_manifest``, or None): the runs of earlier sweeps on this store stay listed (a run
    of this sweep replaces its own entry), so status and report keep seeing them. A run is listed by its id alone
    (a format-1 entry's recorded folder is dropped)."""
    listed: dict[str, dict[str, Any]] = {}
    previous_sweeps: list[dict[str, Any]] = []
    if previous is not None:
        listed = {run["run_id"]: {k: v for k, v in run.items() if k != "out"} for run in previous["runs"]}
        previous_sweeps = previous.get("previous_sweeps", []) + [
            {key: previous.get(key) for key in ("name", "source", "created")}]
    for run in runs:
        listed[run["run_id"]] = run
    write_json_atomic(Path(root) / MANIFEST, {
        **written_by(), "name": header["name"], "source": header["source"], "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "sweep": header["sweep"], "previous_sweeps": previous_sweeps[-20:], "runs": list(listed.values()),
    })
