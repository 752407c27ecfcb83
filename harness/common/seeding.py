"""Seeds derived from names: the same parts give the same seed in every process and on every machine."""

from __future__ import annotations

import hashlib
from typing import Any


def stable_seed(*parts: Any) -> int:
    """A 31-bit seed from any parts (e.g. the run seed, a purpose, a step)."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "little") & 0x7FFFFFFF
