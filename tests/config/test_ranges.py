"""Declared ranges (``harness.config.ranges``): every int or float setting of a run, a sweep and every registry entry
declares one (or is opted out below, with the reason), so a new setting cannot slip through unchecked; what a range
accepts at its edges; and the JSON Schemas carry them. What a bad value in a YAML gets is in ``test_bad_inputs.py``."""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest

from harness.commands.catalog import REGISTRIES
from harness.commands.schema import run_schema
from harness.config.errors import ConfigError
from harness.config.parse import config_problems, from_dict
from harness.config.ranges import RANGE, Range, above, at_least, between, positive
from harness.config.schema import RunConfig, SweepConfig
from harness.selection.bandits.base import BanditContext

# Numeric settings without a declared range, each with the reason.
UNRANGED = {
    "harness.selection.combiners.NormalizeThenSumConfig.weights":
        "a signed weight per RM: a negative one counts an RM against a response",
    **{f"harness.sweep.executors.{cls}.{name}": "set by the sweep command's flags, which it checks (--workers, "
       "--cpus-per-run, --gpus-per-run); harness/sweep is another change's, so its Config declares no range yet"
       for cls, names in (("local.LocalConfig", ("workers", "threads_per_run")),
                          ("ray_cluster.RayConfig", ("workers", "cpus_per_run", "gpus_per_run", "threads_per_run")),
                          ("slurm.SlurmConfig", ("workers", "threads_per_run")))
       for name in names},
}


def _inner_types(hint: Any) -> list[Any]:
    """The types a hint is made of: ``int | None`` -> int; ``list[float]`` -> float; ``dict[str, X]`` -> X."""
    if get_origin(hint) in (Union, types.UnionType, list, tuple):
        return [t for arg in get_args(hint) for t in _inner_types(arg)]
    if get_origin(hint) is dict:
        return _inner_types(get_args(hint)[1])
    return [hint]


def _config_classes() -> dict[str, type]:
    """Every dataclass a run or sweep config is read into: the sections of both, every registry entry's Config, and the
    dataclasses nested in them, by qualified name."""
    found: dict[str, type] = {}
    stack = [RunConfig, SweepConfig] + [registry.config_class(name) for registry in REGISTRIES.values()
                                        for name in registry.names()]
    while stack:
        cls = stack.pop()
        name = f"{cls.__module__}.{cls.__qualname__}"
        if name in found:
            continue
        found[name] = cls
        stack += [t for hint in get_type_hints(cls).values() for t in _inner_types(hint) if dataclasses.is_dataclass(t)]
    return found


def _numeric_fields() -> dict[str, dataclasses.Field]:
    fields = {}
    for name, cls in _config_classes().items():
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if any(t in (int, float) for t in _inner_types(hints[f.name])):
                fields[f"{name}.{f.name}"] = f
    return fields


def test_the_walk_reaches_every_covered_section():
    names = set(_config_classes())
    for expected in ("TrainConfig", "EvalConfig", "LmEvalConfig", "BestOfNConfig", "ProfileConfig", "MemoryConfig",
                     "CompareConfig", "LMJudgeConfig", "LinUCBConfig", "WorldConfig", "ModelRecipe", "ClassifierConfig"):
        assert any(name.endswith(f".{expected}") for name in names), expected


def test_every_numeric_setting_declares_its_range_or_says_why_not():
    fields = _numeric_fields()
    missing = sorted(name for name, f in fields.items() if RANGE not in f.metadata and name not in UNRANGED)
    assert not missing, f"declare a range (field metadata {{'range': at_least(1)}}, ...) or add a reason to UNRANGED: {missing}"
    stale = sorted(name for name in UNRANGED if name not in fields or RANGE in fields[name].metadata)
    assert not stale, f"UNRANGED names settings that are gone or ranged now: {stale}"
    assert len(fields) > 100


def test_only_numeric_settings_declare_ranges():
    numeric = _numeric_fields()
    for name, cls in _config_classes().items():
        for f in dataclasses.fields(cls):
            if RANGE in f.metadata:
                assert isinstance(f.metadata[RANGE], Range) and f"{name}.{f.name}" in numeric, (name, f.name)


@pytest.mark.parametrize("allowed, text, inside, outside", [
    (at_least(1), ">= 1", [1, 7], [0, -1]),
    (above(2), "> 2", [2.5], [2, 1]),
    (positive(), "> 0", [1e-9], [0, -0.1, float("nan")]),
    (between(0, 1), "in [0, 1]", [0, 0.5, 1], [-0.01, 1.01]),
    (between(0, 1, low_open=True), "in (0, 1]", [1e-9, 1], [0, 1.5]),
    (between(0, 1, high_open=True), "in [0, 1)", [0, 0.99], [1]),
])
def test_a_range_says_what_it_accepts(allowed, text, inside, outside):
    assert str(allowed) == text
    assert all(value in allowed for value in inside) and not any(value in allowed for value in outside)


@pytest.mark.parametrize("settings, problem", [
    ({"eval": {"batch_size": 0}}, "eval.batch_size: must be >= 1, got 0"),
    ({"eval": {"max_dev_examples": 0}}, "eval.max_dev_examples: must be >= 1 or null, got 0"),
    ({"train": {"temperature": 0}}, "train.temperature: must be > 0 (sampling divides the logits by it), got 0.0"),
    ({"train": {"max_grad_norm": -1}}, "train.max_grad_norm: must be >= 0 (0: no clipping), got -1.0"),
    ({"task": {"split_fractions": [0.7, 1.3, 0.2]}}, "task.split_fractions[1]: must be in [0, 1], got 1.3"),
    ({"profile": {"num_samples": 1}}, "profile.num_samples: must be >= 2 or null (a right and a wrong one to compare), got 1"),
])
def test_a_value_outside_its_range_names_the_key_the_range_and_the_value(settings, problem):
    assert config_problems(from_dict(RunConfig, {"policy": {"model": "m"}, **settings})) == [problem]


def test_edges_and_nulls_that_the_code_handles_are_accepted():
    config = from_dict(RunConfig, {"policy": {"model": "m"}, "seed": 0, "train": {"top_p": 0, "max_grad_norm": 0,
                                   "weight_decay": 0, "nll_weight": 0}, "eval": {"max_dev_examples": None},
                                   "profile": {"resamples": 0, "num_samples": None}, "task": {"split_sizes": [8, 0, 4]}})
    assert config_problems(config) == []


def test_registry_settings_are_checked_when_read_and_when_built():
    bandits = REGISTRIES["bandits (laser's bandit)"]
    with pytest.raises(ConfigError, match=r"^bandit\.alpha: must be >= 0, got -1\.0$"):
        bandits.parse("linucb", {"alpha": -1}, prefix="bandit")
    settings = bandits.config_class("linucb")(alpha=-1.0)  # built in code, never parsed
    with pytest.raises(ConfigError, match=r"alpha: must be >= 0"):
        bandits.build("linucb", settings, BanditContext(num_arms=2, dim=3))


def test_the_json_schema_carries_the_ranges():
    defs = run_schema()["$defs"]
    assert defs["EvalConfig"]["properties"]["batch_size"]["minimum"] == 1
    assert defs["TrainConfig"]["properties"]["learning_rate"]["exclusiveMinimum"] == 0
    assert defs["TrainConfig"]["properties"]["top_p"].items() >= {"minimum": 0, "maximum": 1}.items()
    limit = defs["LmEvalConfig"]["properties"]["limit"]["anyOf"]
    assert {"type": "integer", "minimum": 1} in limit and {"type": "null"} in limit
    task = run_schema()["properties"]["task"]["anyOf"][0]["properties"]
    assert task["split_fractions"]["items"] == {"type": "number", "minimum": 0, "maximum": 1}
