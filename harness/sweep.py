"""Sweep configs: methods x tasks x seeds (x policies x any extra axis) expanded into run configs.

A sweep YAML holds ``base`` (a run config shared by every run), the axes ``tasks``, ``methods``,
``seeds``, optionally ``policies`` and ``grid`` (dotted run-config key -> list of values), and the
sweep's ``name``. Each grid point becomes one run config whose folder is
``<out>/<sweep>/<task>/<method label>[@axis=value,...]/seed<k>/``. Overrides on the command line
(``key=value``) apply to the sweep YAML itself, so ``seeds=[0,1]`` or ``base.train.iterations=2`` work.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.comparisons import CompareConfig
from harness.config import RunConfig, TaskConfig, build_run_config, parse_overrides, read_yaml
from harness.dataclass_parse import ConfigError, apply_override, from_dict, parse_with_overrides, to_dict


@dataclass
class SweepMethod:
    name: str
    label: str = field(default="", metadata={"help": "Folder/table name; default: the method name."})
    args: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict, metadata={"help": "Run-config keys for this method only."})


@dataclass
class SweepPolicy:
    name: str
    model: str
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class SweepConfig:
    name: str
    base: dict[str, Any] = field(default_factory=dict)
    tasks: list[TaskConfig] = field(default_factory=list)
    methods: list[SweepMethod] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    policies: list[SweepPolicy] = field(default_factory=list)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    setup: dict[str, Any] = field(default_factory=dict, metadata={"help": "Hook run once before the sweep."})
    report: dict[str, Any] = field(default_factory=dict, metadata={"help": "Settings for the report command."})
    shared_cache: bool = field(default=True, metadata={"help": "Share identical work between runs (<out>/<name>/.cache)."})
    compare: CompareConfig | None = field(default=None, metadata={
        "help": "Open-ended tasks: judge pairs of methods' test outputs after the runs (AlpacaEval win rates)."})


@dataclass
class RunSpec:
    """One run of a sweep: where it lives and its full config."""

    run_id: str                      # <task>/<method label>[@axes]/seed<k>
    task: str
    method_label: str
    seed: int
    axes: dict[str, Any]
    config: RunConfig

    @property
    def folder(self) -> Path:
        return Path(self.config.out)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=,+@-]+", "-", str(text))


def load_sweep(path: str | Path, overrides: list[str] = ()) -> SweepConfig:
    sweep = parse_with_overrides(SweepConfig, read_yaml(path), parse_overrides(list(overrides)), str(path))
    if not sweep.tasks or not sweep.methods or not sweep.seeds:
        raise ConfigError(f"{path}: a sweep needs at least one task, one method and one seed")
    if sweep.compare is not None:
        from harness.judges import JUDGES
        from harness.registry import UnknownNameError

        judge = sweep.compare.judge
        try:
            JUDGES.check(judge.kind)
        except UnknownNameError as error:
            raise ConfigError(f"{path}: compare.judge.kind: {error}") from None
        if judge.kind == "lm" and not judge.model:
            raise ConfigError(f"{path}: compare.judge.model: required for a judge of kind 'lm' (a causal LM)")
        if judge.kind == "reward_model" and judge.reward_model is None:
            raise ConfigError(f"{path}: compare.judge.reward_model: required for a judge of kind 'reward_model'")
    labels = [m.label or m.name for m in sweep.methods]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ConfigError(f"{path}: methods: labels must be unique, repeated: {', '.join(duplicates)} (set label:)")
    return sweep


def sweep_root(sweep: SweepConfig, out: str | Path) -> Path:
    return Path(out) / _safe(sweep.name)


def expand(sweep: SweepConfig, out: str | Path, source: str = "<sweep>", check_data: bool = True) -> list[RunSpec]:
    """Every run of the sweep, validated (unknown keys and names fail here, before any compute)."""
    root = sweep_root(sweep, out)
    policies = sweep.policies or [None]
    grid_keys = list(sweep.grid)
    specs = []
    for task, method, policy, values, seed in itertools.product(
            sweep.tasks, sweep.methods, policies, itertools.product(*sweep.grid.values()), sweep.seeds):
        data = copy.deepcopy(sweep.base)
        data["task"] = to_dict(task)
        data["seed"] = seed
        data["method"] = {"name": method.name, "args": copy.deepcopy(method.args)}
        axes: dict[str, Any] = {}
        if policy is not None:
            apply_override(data, "policy.model", policy.model)
            for key, value in policy.overrides.items():
                apply_override(data, key, copy.deepcopy(value))
            axes["policy"] = policy.name
        for key, value in zip(grid_keys, values):
            apply_override(data, key, copy.deepcopy(value))
            axes[key] = value
        for key, value in method.overrides.items():
            apply_override(data, key, copy.deepcopy(value))
        label = method.label or method.name
        suffix = ("@" + ",".join(f"{k}={v}" for k, v in axes.items())) if axes else ""
        run_id = f"{_safe(task.name)}/{_safe(label + suffix)}/seed{seed}"
        data["out"] = str(root / run_id)
        if sweep.shared_cache:
            data.setdefault("cache_dir", str(root / ".cache"))
        where = f"{source} [{run_id}]"
        config = build_run_config(data, [], source=where) if check_data else _build_unchecked(data, where)
        specs.append(RunSpec(run_id, task.name, label, seed, axes, config))
    return specs


def _build_unchecked(data: dict[str, Any], source: str) -> RunConfig:
    from harness.validate import validate_run_config

    try:
        config = from_dict(RunConfig, data)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
    validate_run_config(config, source=source, check_data=False)
    return config
