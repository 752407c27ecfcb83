"""A content-addressed cache shared by the runs of a sweep (SQLite, safe across processes).

Runs of one sweep often compute the same thing: the first step's samples of the same initial policy and
seed (every method starts from the same policy, so its step-0 batch is identical), reward-model scores
of identical (prompt, response) pairs, and the test generations of the untrained base model. Each such
result is stored under the SHA-256 of everything it depends on (model identity, inputs, decoding
settings; a model's identity comes from ``harness.models.loading.model_identity``), so a hit is exact, and a
miss simply computes and stores.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any


def cache_home() -> Path:
    """The harness's per-user cache folder: $HARNESS_CACHE, else $XDG_CACHE_HOME/harness (~/.cache/harness)."""
    base = os.environ.get("HARNESS_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "harness")
    return Path(base)


def content_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class ContentCache:
    """``get(key)`` / ``put(key, value)`` of JSON values in one SQLite file; hits and misses are counted."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.hits = self.misses = 0
        with self._connection() as db:
            db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60)
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db = db
        return db

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        db = self._connection()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = db.execute(f"SELECT key, value FROM entries WHERE key IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            found.update((key, json.loads(value)) for key, value in rows)
        self.hits += len(found)
        self.misses += len(set(keys)) - len(found)
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        if not items:
            return
        with self._connection() as db:
            db.executemany("INSERT OR IGNORE INTO entries (key, value) VALUES (?, ?)",
                           [(key, json.dumps(value)) for key, value in items.items()])

    def get(self, key: str) -> Any | None:
        return self.get_many([key]).get(key)

    def put(self, key: str, value: Any) -> None:
        self.put_many({key: value})
