"""The run store's format version, and what a store records about who wrote it.

Every manifest (``sweep.json``) and every run's ``config.json`` carry ``store_format`` and ``harness_version``.
Format 1 (no ``store_format``; harness 0.1.0, before the store became portable) recorded the folders where they were
written: the manifest's ``out`` of each run and the run config's ``out`` and ``cache_dir``. Format 2 records them
relative: a run's ``out`` is ``.`` (its own folder), a cache inside the store is a path relative to the run folder,
and the manifest lists each run by its id, its folder being ``<store>/<run id>``. So a store moved, copied or
rsynced elsewhere reads, reports and resumes the same.

This harness reads formats 1 and 2; ``sweep`` migrates a format-1 store in place (``harness.store.migrate``) before
adding to it; a store of a newer format is refused in one line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from harness import __version__
from harness.config.errors import ConfigError
from harness.store.layout import MANIFEST

STORE_FORMAT = 2
LEGACY_FORMAT = 1
# the run-config keys that name folders; a store records them relative (see the module docstring)
LOCATION_KEYS = ("out", "cache_dir")


def written_by() -> dict[str, Any]:
    """What a manifest or a run's config.json records about the harness that wrote it."""
    return {"store_format": STORE_FORMAT, "harness_version": __version__}


def recorded_format(path: Path, record: dict[str, Any]) -> int:
    """The store format of a manifest or run config ``record`` read from ``path``: 1 when it names none; a newer
    format than this harness reads, or one that is not a positive integer, is a ConfigError naming the file."""
    value = record.get("store_format", LEGACY_FORMAT)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{path}: store_format: expected a positive integer, got {value!r}")
    if value > STORE_FORMAT:
        writer = record.get("harness_version", "an unknown version")
        raise ConfigError(f"{path}: written by harness {writer} in store format {value}; this harness ({__version__}) "
                          f"reads formats up to {STORE_FORMAT}: upgrade it to read this store")
    return value


def store_root_of(folder: Path) -> Path | None:
    """The store a run folder lies in: its nearest ancestor holding a manifest, or None (a lone run)."""
    for parent in Path(folder).absolute().parents:
        if (parent / MANIFEST).is_file():
            return parent
    return None


def portable_locations(config: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A run config (as a dict) as its store records it: ``out`` is ``.`` (the run's own folder) and a
    ``cache_dir`` inside the run's store (or its folder) is relative to the run folder; a cache elsewhere is one
    of the user's own folders, kept as given."""
    portable = dict(config)
    folder = Path(folder).absolute()
    portable["out"] = "."
    cache = portable.get("cache_dir") or ""
    if cache:
        cache_path = Path(cache).absolute()
        container = store_root_of(folder) or folder
        if cache_path == container or cache_path.is_relative_to(container):
            portable["cache_dir"] = Path(os.path.relpath(cache_path, folder)).as_posix()
    return portable


def resolved_locations(config: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A stored run config with its folders where the run folder now is: ``out`` is ``folder`` and a relative
    ``cache_dir`` is resolved against it. (A format-1 config's ``cache_dir`` is kept when that folder still exists,
    else dropped: the cache only saves work, it never changes a result.)"""
    resolved = dict(config)
    folder = Path(folder)
    recorded_out = str(resolved.get("out") or ".")
    resolved["out"] = str(folder)
    cache = str(resolved.get("cache_dir") or "")
    if cache and recorded_out == "." and not Path(cache).is_absolute():
        resolved["cache_dir"] = os.path.normpath(folder / cache)
    elif cache and recorded_out != "." and not Path(cache).is_dir():
        resolved["cache_dir"] = ""
    return resolved


def relative_cache(cache: str, recorded_out: str, depth: int) -> str:
    """A format-1 run's ``cache_dir`` as format 2 records it: relative to the run folder when it lay inside the
    run's store (the folder ``depth`` levels above ``recorded_out``), else as it was."""
    if not cache:
        return cache
    out, cache_path = Path(os.path.abspath(recorded_out)), Path(os.path.abspath(cache))
    store = out.parents[depth - 1] if depth >= 1 else out
    if cache_path == store or cache_path.is_relative_to(store):
        return Path(os.path.relpath(cache_path, out)).as_posix()
    return cache
