"""The synthetic world in use: ``world:NAME`` model specs and the ``synth_*`` tasks name no world, so whoever runs a
config (a run, its profile, an lm-eval pass) makes the config's ``world`` settings the active ones while it works.

A context variable, not a global: threads and nested uses each see their own; outside any ``using_world`` block the
default world is active, as before worlds could vary."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from harness.config.schema import WorldSettings

_ACTIVE: ContextVar[WorldSettings] = ContextVar("harness_world", default=WorldSettings())


def active_world_settings() -> WorldSettings:
    """The world settings of the config being run (the default world outside ``using_world``)."""
    return _ACTIVE.get()


@contextmanager
def using_world(settings: WorldSettings | None) -> Iterator[WorldSettings]:
    """Make ``settings`` (None: the default world) the active world for the block."""
    token = _ACTIVE.set(settings or WorldSettings())
    try:
        yield _ACTIVE.get()
    finally:
        _ACTIVE.reset(token)
