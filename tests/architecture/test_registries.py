"""Every registry of the harness (``harness.commands.catalog``) against the one extension contract: an entry loads,
subclasses the registry's base, describes itself in one line, and takes its settings as a dataclass
``Config`` that is checked strictly (unknown keys suggest the closest one). A new entry is covered here
without a new test."""

from __future__ import annotations

import dataclasses

import pytest

from harness.commands.catalog import REGISTRIES
from harness.config.errors import ConfigError, UnknownNameError

ENTRIES = [(title, name) for title, registry in REGISTRIES.items() for name in registry.names()]


@pytest.mark.parametrize("title, name", ENTRIES, ids=[f"{t.split()[0]}:{n}" for t, n in ENTRIES])
def test_entry_meets_the_extension_contract(title, name):
    registry = REGISTRIES[title]
    entry = registry.get(name)
    assert isinstance(entry.description, str) and entry.description.strip(), f"{name}: no description"
    config_class = registry.config_class(name)
    assert dataclasses.is_dataclass(config_class)
    fields = [f for f in dataclasses.fields(config_class) if f.init and not f.metadata.get("rest")]
    required = [f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if required:
        with pytest.raises(ConfigError, match=rf"where\.{required[0]}\b.*: required, but missing"):
            registry.parse(name, {}, prefix="where")
    else:
        assert registry.parse(name, {}, prefix="where") == config_class()
    if fields and not any(f.metadata.get("rest") for f in dataclasses.fields(config_class)):
        typo = fields[0].name + "x"
        with pytest.raises(ConfigError, match=rf"unknown key 'where\.{typo}'\. Did you mean '{fields[0].name}'"):
            registry.parse(name, {typo: None}, prefix="where")


@pytest.mark.parametrize("title", list(REGISTRIES))
def test_unknown_names_are_refused_with_the_choices(title):
    registry = REGISTRIES[title]
    first = registry.names()[0]
    with pytest.raises(UnknownNameError, match=rf"Did you mean '{first}'.*Accepted values: "):
        registry.check(first[:-1] + "~")
