"""Sweep configs: methods x tasks x seeds (x policies x any extra axis) expanded into run configs.

A sweep YAML holds ``base`` (a run config shared by every run), the axes ``tasks``, ``methods``,
``seeds``, optionally ``policies`` and ``grid`` (dotted run-config key -> list of values), and the
sweep's ``name``; ``extends: other.yaml`` starts from another sweep's keys (mappings merge, lists are replaced). Each grid point becomes one run config whose folder is
``<out>/<sweep>/<task>/<method label>[@axis=value,...]/seed<k>/``. Overrides on the command line
(``key=value``) apply to the sweep YAML itself, so ``seeds=[0,1]`` or ``base.train.iterations=2`` work.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config.errors import ConfigError, UnknownNameError, unknown_name_message
from harness.config.parse import apply_override, parse_overrides, parse_with_overrides, read_yaml, to_dict
from harness.config.schema import RunConfig, SweepConfig, SweepMethod
from harness.loop.run_config import build_run_config
from harness.rewards.judges.registry import JUDGES, judge_settings
from harness.store.layout import CACHE_DIR, run_id, safe_name


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


def read_sweep_yaml(path: str | Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A sweep YAML's mapping with its ``extends`` chain resolved (the parent's keys, then this file's)."""
    path = Path(path)
    data = read_yaml(path)
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent:
        raise ConfigError(f"{path}: extends: expected the path of another sweep YAML, got {parent!r}")
    target = (path.parent / parent).resolve()
    if target in seen or target == path.resolve():
        raise ConfigError(f"{path}: extends: {parent} leads back to itself ({' -> '.join(p.name for p in (*seen, target))})")
    if not target.is_file():
        raise ConfigError(f"{path}: extends: {parent} not found (looked for {target})")
    merged = merge_mappings(read_sweep_yaml(target, (*seen, path.resolve())), data)
    merged.pop("extends")
    return merged


def merge_mappings(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``child`` over ``parent``: nested mappings merge key by key, anything else is replaced."""
    merged = copy.deepcopy(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_mappings(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_sweep(path: str | Path, overrides: list[str] = ()) -> SweepConfig:
    sweep = parse_with_overrides(SweepConfig, read_sweep_yaml(path), parse_overrides(list(overrides)), str(path))
    if not sweep.tasks or not sweep.methods or not sweep.seeds:
        raise ConfigError(f"{path}: a sweep needs at least one task, one method and one seed")
    if sweep.compare is not None:
        try:
            JUDGES.check(sweep.compare.judge.kind)
        except UnknownNameError as error:
            raise ConfigError(f"{path}: compare.judge.kind: {error}") from None
        try:
            judge_settings(sweep.compare.judge)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None
    if not sweep.name or sweep.name in (".", "..") or safe_name(sweep.name) != sweep.name:
        raise ConfigError(f"{path}: name: expected a folder name of letters, digits and ._=,+@- (not '.' or '..'), "
                          f"got {sweep.name!r}")
    for key, values in (("seeds", sweep.seeds), ("tasks", [t.name for t in sweep.tasks]),
                        ("policies", [p.name for p in sweep.policies]),
                        *((f"grid.{k}", [repr(v) for v in vs]) for k, vs in sweep.grid.items())):
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise ConfigError(f"{path}: {key}: each value must be listed once (a run would count twice), "
                              f"repeated: {', '.join(repeated)}")
    negative = [seed for seed in sweep.seeds if seed < 0]
    if negative:
        raise ConfigError(f"{path}: seeds: expected non-negative integers, got {negative[0]}")
    labels = [m.label or m.name for m in sweep.methods]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ConfigError(f"{path}: methods: labels must be unique, repeated: {', '.join(duplicates)} (set label:)")
    if sweep.report.target is not None:
        known = labels + [m.name for m in sweep.methods]
        targets = sweep.report.targets()
        if not targets:
            raise ConfigError(f"{path}: report.target: expected a method label or a list of them, got []")
        for target in targets:
            if target not in known:
                raise ConfigError(f"{path}: report.target: {unknown_name_message('method label', target, labels)}")
    return sweep


def sweep_root(sweep: SweepConfig, out: str | Path) -> Path:
    return Path(out) / safe_name(sweep.name)


def grid_points(grid: dict[str, list[Any]], method: SweepMethod) -> list[tuple[list[str], tuple]]:
    """The grid points a method runs at, as (keys, values): a grid key that the method's ``overrides`` set is pinned
    for that method (one run per point of the other keys, without that axis), e.g. the ``sft`` method under a
    ``train.start: [base, sft]`` grid with ``overrides: {train.start: base}``."""
    keys = [key for key in grid if key not in method.overrides]
    return [(keys, values) for values in itertools.product(*(grid[key] for key in keys))]


def expand(sweep: SweepConfig, out: str | Path, source: str = "<sweep>", check_data: bool = True) -> list[RunSpec]:
    """Every run of the sweep, validated (unknown keys and names fail here, before any compute)."""
    root = sweep_root(sweep, out)
    policies = sweep.policies or [None]
    specs = []
    runs = ((task, method, policy, point, seed) for task, method, policy in itertools.product(sweep.tasks, sweep.methods, policies)
            for point in grid_points(sweep.grid, method) for seed in sweep.seeds)
    for task, method, policy, (grid_keys, values), seed in runs:
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
        identity = run_id(task.name, label, axes, seed)
        data["out"] = str(root / identity)
        if sweep.shared_cache:
            data.setdefault("cache_dir", str(root / CACHE_DIR))
        config = build_run_config(data, [], source=f"{source} [{identity}]", check_data=check_data)
        specs.append(RunSpec(identity, task.name, label, seed, axes, config))
    return specs


def is_sweep_yaml(data: dict) -> bool:
    """A sweep YAML (``base`` and ``tasks``, or ``extends``), not a run YAML."""
    return ("tasks" in data and "base" in data) or "extends" in data
