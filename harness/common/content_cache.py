"""A content-addressed cache shared by the runs of a sweep (SQLite, safe across the processes of a machine).

Runs of one sweep often compute the same thing: the first step's samples of the same initial policy and
seed (every method starts from the same policy, so its step-0 batch is identical), reward-model scores
of identical (prompt, response) pairs, and the test generations of the untrained base model. Each such
result is stored under the SHA-256 of everything it depends on (model identity, inputs, decoding
settings; a model's identity comes from ``harness.models.loading.model_identity``), so a hit is exact, and a
miss simply computes and stores.

The cache is an optimisation and never fails a run: the journal mode is switched to WAL once per file under
a file lock (switching it is a write that SQLite refuses at once, without waiting, when another process holds
a read lock); lock contention is retried with backoff; a file that is not a readable database is moved aside
(``<name>.corrupt-<time>``) with one warning and rebuilt; and when the database stays locked beyond
``max_wait`` seconds the cache turns itself off for this process (one warning) and the run computes without it.

On a filesystem that other machines may share (NFS, SMB, Lustre, GPFS, CephFS, FUSE, ...: ``shared_filesystem``)
each machine keeps its own file, ``<name>-<host>.sqlite`` (``per_machine``): WAL mode needs memory shared by all
users of the file, which processes on two machines do not have, and SQLite's locks are not reliable over a network
filesystem. Entries are exact, so this changes how often a result is reused, never a result.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, TypeVar

from filelock import FileLock

T = TypeVar("T")


def cache_home() -> Path:
    """The harness's per-user cache folder: $HARNESS_CACHE, else $XDG_CACHE_HOME/harness (~/.cache/harness)."""
    base = os.environ.get("HARNESS_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "harness")
    return Path(base)


# filesystems whose files processes on several machines may open at once (besides every FUSE filesystem)
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "coda", "9p", "virtiofs", "davfs", "lustre", "gpfs",
    "ceph", "glusterfs", "beegfs", "orangefs", "pvfs2", "ocfs2", "gfs2", "panfs", "wekafs", "quobyte",
})


def filesystem_type(path: str | Path) -> str | None:
    """The type of the filesystem holding ``path`` (or its nearest existing parent); None where it cannot be told."""
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return None
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return mount_type(os.path.realpath(path), mountinfo)


def mount_type(target: str, mountinfo: str) -> str | None:
    """The type of the mount holding the absolute, resolved path ``target``: in ``mountinfo`` (the format of
    ``/proc/self/mountinfo``), the last mount on the longest mount point that contains it."""
    found, longest = None, -1
    for line in mountinfo.splitlines():
        before, separator, after = line.partition(" - ")
        fields, kind = before.split(), after.split()[:1]
        if not separator or len(fields) < 5 or not kind:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), fields[4])  # \040: a space
        if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= longest:
            found, longest = kind[0], len(point)
    return found


def shared_filesystem(path: str | Path) -> bool:
    """Whether other machines may open the files under ``path`` too (also where that cannot be told)."""
    kind = filesystem_type(path)
    return kind is None or kind in NETWORK_FILESYSTEMS or kind == "fuse" or kind.startswith("fuse.")


def per_machine(path: str | Path) -> Path:
    """``path`` on a local filesystem; ``<stem>-<host><suffix>`` beside it on one that other machines may share."""
    path = Path(path)
    if not shared_filesystem(path.parent):
        return path
    host = re.sub(r"[^A-Za-z0-9._-]+", "-", socket.gethostname()) or "host"
    return path.with_name(f"{path.stem}-{host}{path.suffix}")


def content_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _is_contention(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


class ContentCache:
    """``get(key)`` / ``put(key, value)`` of JSON values in one SQLite file; hits and misses are counted."""

    def __init__(self, path: str | Path, max_wait: float = 120.0):
        self.path = per_machine(path)
        self.max_wait = max_wait
        self.disabled = False
        self._local = threading.local()
        self.hits = self.misses = 0
        self._guarded(self._initialise, None)

    # ----- opening and repairing -------------------------------------------------------------------
    def _initialise(self, damage: sqlite3.DatabaseError | None = None) -> None:
        """Under the file lock, one process at a time: WAL mode and the table. A file that is not a readable
        database (after ``damage`` was seen in use: one that fails ``PRAGMA quick_check``, as another process
        may have replaced it already) is moved aside and replaced by an empty one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock", timeout=self.max_wait):
            self._close()
            try:
                db = self._connection()
                if damage is not None and db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    raise damage
                self._setup(db)
            except sqlite3.OperationalError:
                raise  # contention or an unusable path: _guarded retries or turns the cache off
            except sqlite3.DatabaseError as error:
                self._move_aside(damage or error)
                self._setup(self._connection())

    @staticmethod
    def _setup(db: sqlite3.Connection) -> None:
        if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        with db:
            db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def _move_aside(self, error: Exception) -> None:
        self._close()
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(self.path) + suffix)
            if source.exists():
                os.replace(source, Path(str(aside) + suffix))
        warnings.warn(f"cache {self.path} is not a readable SQLite database ({error}); moved it aside to "
                      f"{aside.name} and started an empty one", RuntimeWarning, stacklevel=2)

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=min(60.0, self.max_wait))
            self._local.db = db
        return db

    def _close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # ----- every access: retried on contention, repaired once, else turned off ---------------------------
    def _guarded(self, operation: Callable[[], T], fallback: T) -> T:
        if self.disabled:
            return fallback
        deadline, pause = time.monotonic() + self.max_wait, 0.05
        damage: sqlite3.DatabaseError | None = None
        repaired = False
        while True:
            try:
                if damage is not None:
                    self._initialise(damage)
                    damage, repaired = None, True
                return operation()
            except sqlite3.OperationalError as error:
                if not _is_contention(error):
                    self._disable(f"cannot be used ({error})")
                    return fallback
                if time.monotonic() + pause > deadline:
                    self._disable(f"is still locked after {self.max_wait:.0f} s ({error})")
                    return fallback
            except sqlite3.DatabaseError as error:  # a damaged file
                if repaired:
                    self._disable(f"is still unreadable after a repair ({error})")
                    return fallback
                damage = error
                continue
            except TimeoutError as error:  # the file lock of _initialise
                self._disable(f"could not be locked within {self.max_wait:.0f} s ({error})")
                return fallback
            except NotImplementedError as error:  # that file lock, where the filesystem has no flock (older filelock)
                self._disable(f"cannot be locked here ({error!r})")
                return fallback
            except OSError as error:  # e.g. a read-only folder
                self._disable(f"cannot be used ({error})")
                return fallback
            time.sleep(pause)
            pause = min(2.0, pause * 2)

    def _disable(self, why: str) -> None:
        self.disabled = True
        self._close()
        warnings.warn(f"cache {self.path} {why}: this process goes on without it", RuntimeWarning, stacklevel=2)

    # ----- reads and writes -----------------------------------------------------------------------
    def get_many(self, keys: list[str]) -> dict[str, Any]:
        found = self._guarded(lambda: self._read(keys), {})
        self.hits += len(found)
        self.misses += len(set(keys)) - len(found)
        return found

    def _read(self, keys: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        damaged: list[str] = []
        db = self._connection()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = db.execute(f"SELECT key, value FROM entries WHERE key IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            for key, value in rows:
                try:
                    found[key] = json.loads(value)
                except ValueError:  # a damaged entry is a miss, removed so that the next put stores it again
                    damaged.append(key)
        if damaged:
            with db:
                db.executemany("DELETE FROM entries WHERE key = ?", [(key,) for key in damaged])
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        if not items:
            return
        rows = [(key, json.dumps(value)) for key, value in items.items()]
        self._guarded(lambda: self._write(rows), None)

    def _write(self, rows: list[tuple[str, str]]) -> None:
        with self._connection() as db:
            db.executemany("INSERT OR IGNORE INTO entries (key, value) VALUES (?, ?)", rows)  # entries are immutable

    def get(self, key: str) -> Any | None:
        return self.get_many([key]).get(key)

    def put(self, key: str, value: Any) -> None:
        self.put_many({key: value})
