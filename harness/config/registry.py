"""Lazy name -> class registries, the one way every part of the harness is extended, and the one way it is built.

Methods, bandits, reward combiners, tasks, reward-model kinds, judges, training losses, training loops, trackers,
executors, model sources, setup hooks and report sections are each a ``Registry`` (``harness.commands.catalog`` lists them).
An entry is a ``"module:Attribute"`` string, imported only when first used, so listing a registry
(``python -m harness ls``) stays cheap and a broken optional dependency of one entry never breaks the others. Every
entry is a class with a one-line ``description`` and a dataclass ``Config`` (its settings, ``NoArgs`` when it has
none), which ``parse`` builds strictly from a config's mapping: unknown names and keys fail at load time with
"did you mean ...?", and so does a number outside the range its field declares (``harness.config.ranges``).

One construction contract: ``REGISTRY.build(name, config, context)`` parses ``config`` (a mapping, None for no
settings, or the entry's ``Config`` already parsed) and returns ``Entry.from_config(config, context)``. ``context``
is the registry's own dataclass, declared with ``Registry(..., context=...)`` and checked on every build: what an
entry is given besides its settings. ``TaskContext``, ``CombinerContext``, ``JudgeContext``, ``LossContext``,
``ExecutorContext``, ``ModelSourceContext`` and ``SetupContext`` hold nothing yet; ``BuildContext`` (reward-model
kinds) the RM's name, the run's shared models, the task's gold check, the seed and the RMs built so far;
``BanditContext`` the arms, the context size and the seed; ``LoopContext`` the run's config, policy, task, splits,
RM pool and method; ``TrackerContext`` the run's folder and name; ``ReportContext`` the runs, the store and the
report's folder. (Methods are still built by ``harness.selection.registry.build_method``.)

How to add anything (a method, an RM kind, a task, ...):
1. write one file with a class that subclasses the registry's base (``Method``, ``RewardModel``, ``Task``, ...)
   and, if it takes arguments, a dataclass ``Config``; the base's ``from_config(config, context)`` builds it
   (most bases build ``cls(config)``; ``RewardModel`` leaves it to each kind), override it when the class needs
   something from the context;
2. add one line to the registry (``"my_name": "my_package.my_module:MyClass"``), or call
   ``REGISTRY.register("my_name", "my_package.my_module:MyClass")`` from your own code, or name the class as
   ``my_module:MyClass`` in the YAML (imported then, from the Python path), or (methods) declare it as an
   entry point of group ``harness.methods`` in your package;
3. run the tests: ``tests/architecture/test_registries.py`` walks every registry and builds every entry through ``build``, so
   the new entry is checked against its contract without writing a new test (methods are also run end to end on
   a tiny model).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
from dataclasses import dataclass
from typing import Any, Generic, Iterable, TypeVar

from harness.config.errors import UnknownNameError, unknown_name_message
from harness.config.parse import from_dict, raise_first_problem

T = TypeVar("T")


@dataclass
class NoArgs:
    """The Config of an entry without arguments."""


class Registry(Generic[T]):
    """Maps names to lazily imported classes, checked against a base class when one is given."""

    def __init__(self, kind: str, entries: dict[str, str], base: type | None = None, entry_point_group: str = "",
                 context: type | None = None):
        self.kind = kind
        self.context = context  # the type of the context every entry's ``from_config`` receives (None: no context)
        self._entries = dict(entries)
        self._base = base
        self._loaded: dict[str, T] = {}
        self._entry_point_group = entry_point_group  # installed packages' entries, read on first use

    def _add_entry_points(self) -> None:
        if not self._entry_point_group:
            return
        group, self._entry_point_group = self._entry_point_group, ""
        for point in importlib.metadata.entry_points(group=group):
            self._entries.setdefault(point.name, point.value)

    def names(self, ordered: bool = False) -> list[str]:
        """The entries' names, sorted; ``ordered``: in the order they were registered (the report's sections)."""
        self._add_entry_points()
        return list(self._entries) if ordered else sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        try:
            self.check(name)  # type: ignore[arg-type]
        except UnknownNameError:
            return False
        return True

    def register(self, name: str, target: str) -> None:
        """Add ``name -> "module:Attribute"`` (for plugins and tests)."""
        if name in self._entries and self._entries[name] != target:
            raise ValueError(f"{self.kind} {name!r} is already registered as {self._entries[name]}")
        self._entries[name] = target
        self._loaded.pop(name, None)

    def check(self, name: str) -> None:
        """Known names pass; so does ``"module:Class"`` naming an importable class of the right base (a user's
        own entry, registered under that name on first use); anything else is an UnknownNameError."""
        self._add_entry_points()
        if name in self._entries:
            return
        if not isinstance(name, str) or ":" not in name:
            raise UnknownNameError(unknown_name_message(self.kind, str(name), self._entries)
                                   + " Or name your own class as 'module:Class'.")
        module_name, _, attribute = name.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise UnknownNameError(f"{self.kind} {name!r}: cannot import module {module_name!r} ({error}); "
                                   "is its folder on the Python path (the folder you run from is)?") from None
        obj = getattr(module, attribute, None)
        if obj is None:
            raise UnknownNameError(f"{self.kind} {name!r}: module {module_name!r} has no {attribute!r}")
        if self._base is not None and not (isinstance(obj, type) and issubclass(obj, self._base)):
            raise UnknownNameError(f"{self.kind} {name!r} is not a subclass of {self._base.__name__}")
        self._entries[name] = name

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
        """The entry's ``Config`` built strictly from ``args``, its declared ranges and ``problems()`` checked; errors
        name ``prefix`` and suggest keys (``also_accepted``: keys that sit beside the settings, e.g. ``name`` and ``kind``)."""
        config = from_dict(self.config_class(name), args or {}, prefix=prefix, also_accepted=also_accepted)
        raise_first_problem(config, prefix)
        return config

    def build(self, name: str, config: Any = None, context: Any = None, prefix: str = "", also_accepted: Iterable[str] = ()) -> Any:
        """The one way an entry is constructed: ``Entry.from_config(config, context)``. ``config`` is the entry's
        ``Config`` or a mapping, parsed strictly first (errors name ``prefix``); ``context`` is the registry's typed
        context (what the entry gets besides its own settings: the run's RM names and seed for a method, ...)."""
        cls = self.get(name)
        prefix = prefix or f"{self.kind} {name}"
        if isinstance(config, self.config_class(name)):  # parsed already, or built in code: its ranges still hold
            raise_first_problem(config, prefix)
        else:  # a mapping (None: no settings), or a wrong value refused here
            config = self.parse(name, config, prefix=prefix, also_accepted=also_accepted)
        if self.context is not None and not isinstance(context, self.context):
            raise TypeError(f"{self.kind} {name!r}: expected a {self.context.__name__} context, got {type(context).__name__}")
        return cls.from_config(config, context)
