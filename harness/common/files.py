"""Atomic file writes (temp file in the same folder, then rename) and JSON/JSONL reads, for the run store."""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np


@lru_cache(maxsize=1)
def umask() -> int:
    """The process's umask (read once: reading it means setting it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, write: Callable[[Any], None]) -> None:
    """Call ``write(binary_handle)`` on a temporary file beside ``path``, then rename it onto ``path``. The file
    gets the mode a plain ``open`` would give it (0666 less the umask), not the temporary file's 0600.

    A crash at any moment leaves ``path`` as it was or whole: the data reaches the disk (or the NFS server)
    before the rename, which replaces the name in one step, also for readers on other machines. The temporary
    name is unique across processes and machines (``mkstemp`` creates it with ``O_EXCL``) and starts with a dot
    and ends in ``.tmp``, so no reader takes a killed writer's leftover for the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` survive a power cut (best effort: some filesystems cannot sync a folder)."""
    try:
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def write_text_atomic(path: str | Path, text: str) -> None:
    write_atomic(Path(path), lambda handle: handle.write(text.encode("utf-8")))


def write_json_atomic(path: str | Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_jsonl_atomic(path: str | Path, rows: Iterable[Any]) -> None:
    write_text_atomic(path, "".join(json.dumps(r, default=_json_default) + "\n" for r in rows))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def read_jsonl(path: str | Path) -> list[Any]:
    """The rows of a JSONL file ([] when it does not exist). A last line cut short (no newline after it, and not
    JSON: what a writer that appends leaves when it is killed) is left out with a warning; any other line that is
    not JSON is an error naming the file and line. (The run store writes its JSONL files whole and atomically, so
    there a cut line means the file was copied or written by something else.)"""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.splitlines()
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as error:
            if number == len(lines) and not text.endswith("\n"):
                warnings.warn(f"{path}: its last line is cut short ({len(line)} characters, {error}); read without it",
                              RuntimeWarning, stacklevel=2)
                break
            raise ValueError(f"{path}, line {number}: not JSON ({error})") from error
    return rows


def unwritable_folder(path: str | Path) -> str | None:
    """Why ``path`` cannot be (made into) a folder this process writes in, or None when it can: checked
    on the path or its nearest existing parent, without creating anything."""
    path = Path(os.path.expandvars(str(path))).expanduser().absolute()
    existing = path
    while not existing.exists():
        if existing.is_symlink():
            return f"{existing} is a broken symbolic link"
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, expected a folder" if existing == path else f"{existing} is a file, not a folder"
    try:  # a probe, not os.access: root passes access checks on read-only mounts and modes
        handle, probe = tempfile.mkstemp(prefix=".harness-write-probe-", dir=existing)
    except OSError as error:
        return f"cannot write in {existing} ({error.strerror})"
    os.close(handle)
    os.unlink(probe)
    return None
