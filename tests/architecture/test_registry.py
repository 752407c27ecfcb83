from __future__ import annotations

import pytest

from harness.config.errors import UnknownNameError
from harness.config.registry import Registry
from harness.selection.method import Method
from harness.selection.registry import METHODS


def test_unknown_name_suggests_close_match_and_lists_choices():
    with pytest.raises(UnknownNameError) as error:
        METHODS.check("lazer")
    message = str(error.value)
    assert "Did you mean 'laser'" in message
    assert "single_rm" in message and "offline_ensemble" in message


def test_entries_load_lazily_and_are_checked_against_the_base_class():
    registry = Registry("thing", {"ok": "harness.selection.laser:Laser", "bad": "harness.selection.bandits.exp3:Exp3"}, base=Method)
    assert registry.get("ok").__name__ == "Laser"
    with pytest.raises(TypeError, match="not a subclass of Method"):
        registry.get("bad")


def test_register_rejects_a_conflicting_target():
    registry = Registry("thing", {"a": "x:Y"})
    registry.register("a", "x:Y")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a", "x:Z")
