"""Several run stores read as one: the runs of stores written on different machines, or by different array jobs
of one sweep, reported together (``python -m harness report STORE [STORE ...]``).

A run is identified by its id (``<task>/<method label>[@axes]/seed<k>``). The same run found in two stores counts
once when both copies have the same settings and, if both are finished, the same result (a copy of one store
inside another, or a run listed by both array jobs but finished by one); a finished copy is preferred to an
unfinished one. Two copies with different settings, or two different results, are refused in one line naming both
folders: which of them the tables should show is the user's call. Where a store lies is not a setting
(``harness.store.format.LOCATION_KEYS``), nor is how long a run took or how often it hit the shared cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config.errors import ConfigError
from harness.store.format import LOCATION_KEYS
from harness.store.layout import MANIFEST
from harness.store.manifest import read_manifest
from harness.store.run_folder import finished_metrics, stored_config
from harness.store.runs import run_folder, run_folders

# what differs between two faithful copies of one result: wall-clock time and the shared cache's counts
VOLATILE_METRICS = ("train_seconds", "total_seconds", "shared_cache")


@dataclass(frozen=True)
class ListedRun:
    """A run as a store lists it (its manifest entry) and the store it was found in."""

    root: Path
    entry: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.entry["run_id"]

    @property
    def folder(self) -> Path:
        return run_folder(self.root, self.entry)


def store_name(root: Path) -> str:
    """A store's name: its sweep's name, or (without a manifest) its folder's."""
    if (Path(root) / MANIFEST).exists():
        return str(read_manifest(Path(root)).get("name") or Path(root).name)
    return Path(root).name


def union_of_stores(roots: list[Path]) -> list[ListedRun]:
    """Every run the stores list, each once, in the order first listed; conflicting copies are a ConfigError."""
    chosen: dict[str, ListedRun] = {}
    for root in roots:
        for entry in run_folders(Path(root)):
            run = ListedRun(Path(root), entry)
            earlier = chosen.get(run.run_id)
            chosen[run.run_id] = run if earlier is None else _one_of(earlier, run)
    return list(chosen.values())


def _one_of(first: ListedRun, second: ListedRun) -> ListedRun:
    """The copy of a run found in two stores that counts; a ConfigError when they disagree."""
    if first.folder.resolve() == second.folder.resolve():
        return first  # one store given twice
    settings = [stored_config(run.folder) for run in (first, second)]
    if all(stored is not None for stored in settings):
        differs = _differences(*(_settings(stored["config"]) for stored in settings))
        if differs:
            raise ConfigError(f"run {first.run_id} is in two stores with different settings ({differs}): {first.folder} "
                              f"and {second.folder}; report them apart, or remove one of the two")
    results = [finished_metrics(run.folder) for run in (first, second)]
    if all(result is not None for result in results):
        differs = _differences(*(_result(result) for result in results))
        if differs:
            raise ConfigError(f"run {first.run_id} is in two stores with different results ({differs}): {first.folder} "
                              f"and {second.folder}; report them apart, or remove one of the two")
    return second if results[0] is None and results[1] is not None else first


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in LOCATION_KEYS}


def _result(metrics: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in metrics.items() if key not in VOLATILE_METRICS}


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> str:
    """The first few differing keys of two nested mappings, as ``key: old -> new``."""
    found = _differing_keys(old, new, prefix)
    shown = ", ".join(f"{key}: {_short(a)} -> {_short(b)}" for key, a, b in found[:2])
    return shown + (f" and {len(found) - 2} more" if len(found) > 2 else "")


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _differing_keys(old: Any, new: Any, prefix: str) -> list[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(old.keys() | new.keys(), key=str):
            found += _differing_keys(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else str(key))
        return found
    return [] if old == new else [(prefix, old, new)]
