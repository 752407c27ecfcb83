"""Lazy name -> class registries, the one way every part of the harness is extended.

Methods, bandits, reward combiners, reward-model kinds, judges, tasks, executors, model sources and setup
hooks are each a ``Registry``. An entry is a ``"module:Attribute"`` string, imported only when first used,
so listing a registry (``python -m harness ls``) stays cheap and a broken optional dependency of one entry
never breaks the others. Every entry is a class with a one-line ``description`` and a dataclass ``Config``
(its arguments, ``NoArgs`` when it has none), which ``parse`` builds strictly from a config's mapping:
unknown names and keys fail at load time with "did you mean ...?".

How to add anything (a method, an RM kind, a task, ...):
1. write one file with a class that subclasses the registry's base (``Method``, ``RewardModel``, ``Task``, ...)
   and, if it takes arguments, a dataclass ``Config``;
2. add one line to the registry (``"my_name": "my_package.my_module:MyClass"``) or call
   ``REGISTRY.register("my_name", "my_package.my_module:MyClass")`` from your own code;
3. run the tests: ``tests/test_registries.py`` walks every registry, so the new entry is checked against
   its contract without writing a new test (methods are also run end to end on a tiny model).
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any, Generic, Iterable, TypeVar

from harness.config.errors import UnknownNameError, unknown_name_message
from harness.config.parse import from_dict

T = TypeVar("T")


@dataclass
class NoArgs:
    """The Config of an entry without arguments."""


class Registry(Generic[T]):
    """Maps names to lazily imported classes, checked against a base class when one is given."""

    def __init__(self, kind: str, entries: dict[str, str], base: type | None = None):
        self.kind = kind
        self._entries = dict(entries)
        self._base = base
        self._loaded: dict[str, T] = {}

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
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

    def config_class(self, name: str) -> type:
        """The entry's argument dataclass (``NoArgs`` when it declares none)."""
        config = getattr(self.get(name), "Config", NoArgs)
        if not dataclasses.is_dataclass(config):
            raise TypeError(f"{self.kind} {name!r}: Config must be a dataclass, got {config!r}")
        return config

    def parse(self, name: str, args: dict[str, Any] | None, prefix: str, also_accepted: Iterable[str] = ()) -> Any:
        """The entry's ``Config`` built strictly from ``args``; errors name ``prefix`` and suggest keys
        (``also_accepted``: keys that sit beside the settings, e.g. ``name`` and ``kind``)."""
        return from_dict(self.config_class(name), args or {}, prefix=prefix, also_accepted=also_accepted)
