"""Configuration errors and the "did you mean ...?" phrase every unknown key or name gets."""

from __future__ import annotations

import difflib
from typing import Iterable


class ConfigError(ValueError):
    """A configuration problem, with the key or file that caused it in the message."""


class UnknownNameError(ConfigError, KeyError):
    """A name that is not registered; the message lists close matches and all choices."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain sentence
        return str(self.args[0])


def suggest(name: str, choices: Iterable[str]) -> str:
    """A ``did you mean`` phrase for ``name`` among ``choices`` (empty when nothing is close)."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def unknown_name_message(kind: str, name: str, choices: Iterable[str]) -> str:
    choices = sorted(choices)
    return f"unknown {kind} {name!r}.{suggest(name, choices)} Accepted values: {', '.join(choices)}."
