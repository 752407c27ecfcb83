"""Migrating a store written in an older format (``harness.store.format``) to this one, in place.

Format 1 -> 2: each listed run's ``config.json`` gets its folders recorded relative (``out`` is ``.``; a cache that
lay inside the store is relative to the run folder) and the format and harness version; then the manifest drops its
runs' recorded folders. Every file is replaced atomically and the manifest last, so a migration cut short leaves a
store that still reads as format 1 and is migrated again, completely, on the next sweep.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.common.files import read_json, write_json_atomic
from harness.store.format import LEGACY_FORMAT, STORE_FORMAT, recorded_format, relative_cache, written_by
from harness.store.layout import CONFIG, MANIFEST


def migrate_store(root: Path, manifest: dict[str, Any]) -> str | None:
    """Bring the store at ``root`` (its manifest as read) to this harness's format; returns the one-line notice
    to show, or None when it already is."""
    found = recorded_format(Path(root) / MANIFEST, manifest)
    if found == STORE_FORMAT:
        return None
    assert found == LEGACY_FORMAT, found
    migrated = 0
    for run in manifest["runs"]:
        path = Path(root) / run["run_id"] / CONFIG
        if not path.is_file():
            continue
        try:
            stored = read_json(path)
            config = stored["config"]
            if recorded_format(path, stored) != LEGACY_FORMAT or not isinstance(config, dict):
                continue
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unreadable: the run counts as unfinished and is redone, which rewrites it
        recorded_out = str(config.get("out") or ".")
        depth = len(Path(run["run_id"]).parts)
        config = {**config, "out": ".", "cache_dir": relative_cache(str(config.get("cache_dir") or ""), recorded_out, depth)}
        write_json_atomic(path, {**written_by(), "config": config, **{k: v for k, v in stored.items() if k != "config"}})
        migrated += 1
    runs = [{k: v for k, v in run.items() if k != "out"} for run in manifest["runs"]]
    write_json_atomic(Path(root) / MANIFEST, {**manifest, **written_by(), "runs": runs})
    return (f"store {root}: migrated in place from format {found} (harness {manifest.get('harness_version', '0.1.0')}) "
            f"to format {STORE_FORMAT} ({migrated} run config(s) rewritten with relative folders)")
