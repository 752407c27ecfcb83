"""Lazy name -> class registries with "did you mean ...?" errors.

Entries are ``"module:Attribute"`` strings, imported only when first used, so listing the
registry (``python -m harness ls``) stays cheap and a broken optional dependency of one entry
never breaks the others.

How to add a reward-model selection method (a baseline):
1. write ``baselines/my_method.py`` with a subclass of ``harness.methods.Method``;
2. add one line to ``METHODS`` in ``harness/methods.py``: ``"my_method": "baselines.my_method:MyMethod"``;
3. run the tests: ``tests/test_methods_contract.py`` walks the whole registry, so the new method is
   checked against the contract (and run end to end on a tiny model) without writing a new test.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Generic, Iterable, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a name that is not registered; the message lists close matches and all choices."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain sentence
        return str(self.args[0])


def suggest(name: str, choices: Iterable[str]) -> str:
    """A ``did you mean`` phrase for ``name`` among ``choices`` (empty when nothing is close)."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def unknown_name_message(kind: str, name: str, choices: Iterable[str]) -> str:
    choices = sorted(choices)
    return f"unknown {kind} {name!r}.{suggest(name, choices)} Accepted values: {', '.join(choices)}."


class Registry(Generic[T]):
    """Maps names to lazily imported objects, checked against a base class when one is given."""

    def __init__(self, kind: str, entries: dict[str, str], base: type | None = None):
        self.kind = kind
        self._entries = dict(entries)
        self._base = base
        self._loaded: dict[str, T] = {}

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def register(self, name: str, target: str) -> None:
        """Add ``name -> "module:Attribute"`` (for plugins and tests)."""
        if name in self._entries and self._entries[name] != target:
            raise ValueError(f"{self.kind} {name!r} is already registered as {self._entries[name]}")
        self._entries[name] = target
        self._loaded.pop(name, None)

    def check(self, name: str) -> None:
        if name not in self._entries:
            raise UnknownNameError(unknown_name_message(self.kind, name, self._entries))

    def get(self, name: str) -> T:
        self.check(name)
        if name not in self._loaded:
            module_name, _, attribute = self._entries[name].partition(":")
            obj = getattr(importlib.import_module(module_name), attribute)
            if self._base is not None and not (isinstance(obj, type) and issubclass(obj, self._base)):
                raise TypeError(f"{self.kind} {name!r} -> {self._entries[name]} is not a subclass of {self._base.__name__}")
            self._loaded[name] = obj
        return self._loaded[name]
