"""The command line's commands that train, judge, plan or load data (``sweep``, ``run``, ``compare``, ``profile``,
``data-stats``, ``plan``, ``ls``); each takes the parsed arguments of ``harness.cli`` and returns the exit code. ``status``
and ``report`` live in their own stages so that they never import torch."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from harness.catalog import REGISTRIES
from harness.common.files import unwritable_folder, write_json_atomic
from harness.config.errors import ConfigError
from harness.config.parse import read_yaml, to_dict
from harness.config.schema import ProfileConfig, RunConfig, TaskConfig
from harness.loop.run_config import build_run_config, load_run_config
from harness.models.quiet import quiet_libraries
from harness.plan.models import UnknownModelError
from harness.plan.placement import device_with_memory
from harness.plan.sweep_plan import plan_runs
from harness.plan.table import format_run_plan, format_summary
from harness.profile.build import ensure_profile
from harness.report.data_stats import OOD, table3
from harness.report.profiles import profile_tables
from harness.report.tables import to_markdown
from harness.report.write import print_calibration, write_report, write_table
from harness.sweep.executors.base import Executor
from harness.sweep.executors.registry import EXECUTORS, build_executor
from harness.sweep.expand import expand, load_sweep
from harness.sweep.layout import PROFILE, REPORT_DIR, safe_name
from harness.sweep.run import execute_run
from harness.sweep.run_sweep import compare_sweep, run_sweep
from harness.tasks.registry import get_task
from harness.tasks.split_counts import split_counts

# ``harness sweep`` flag -> the executor Config key it sets
EXECUTOR_FLAGS = {"workers": "workers", "ray_address": "address", "cpus_per_run": "cpus_per_run",
                  "gpus_per_run": "gpus_per_run", "slurm_folder": "folder", "slurm_cluster": "cluster"}


def executor_from_args(args: argparse.Namespace) -> Executor:
    """The ``--executor`` with its settings from the flags given; a flag of another executor is an error."""
    try:
        EXECUTORS.check(args.executor)
    except ConfigError as error:
        raise ConfigError(f"--executor: {error}") from None
    accepted = {f.name for f in dataclasses.fields(EXECUTORS.config_class(args.executor))}
    options = {}
    for flag, key in EXECUTOR_FLAGS.items():
        value = getattr(args, flag)
        if value is None:
            continue
        if flag == "gpus_per_run" and value == "plan":  # each run's GPUs from its memory plan
            if "gpus_from_plan" in accepted:
                options["gpus_from_plan"] = True
                continue
            if key not in accepted:
                raise ConfigError(f"--gpus-per-run: does not apply to --executor {args.executor}")
            options[key] = None
            continue
        option = f"--{flag.replace('_', '-')}"
        if key not in accepted:
            raise ConfigError(f"{option}: does not apply to --executor {args.executor}")
        if isinstance(value, (int, float)) and (value < 0 or (value == 0 and flag in ("workers", "cpus_per_run"))):
            raise ConfigError(f"{option}: expected a positive number, got {value}")
        options[key] = value
    return build_executor(args.executor, **options)


def _report(root) -> None:
    written = write_report(root, root / REPORT_DIR)
    print(f"report: {len(written)} files in {root / REPORT_DIR}")
    print_calibration(written)


def sweep(args: argparse.Namespace) -> int:
    quiet_libraries()
    result = run_sweep(args.config, args.overrides, args.out, executor_from_args(args))
    if not args.no_report and result.done:
        _report(result.root)
    if result.busy:
        print(f"sweep incomplete: {result.busy} run(s) still running in another process; the report lacks them "
              "(rerun the sweep, or `python -m harness report`, once they have finished)")
    return result.exit_code


def run(args: argparse.Namespace) -> int:
    quiet_libraries()
    execute_run(load_run_config(args.config, args.overrides), progress=not args.quiet)
    return 0


def compare(args: argparse.Namespace) -> int:
    quiet_libraries()
    root = compare_sweep(args.config, args.overrides, args.out, force=args.force)
    if not args.no_report:
        _report(root)
    return 0


def is_sweep_yaml(data: dict) -> bool:
    """A sweep YAML (``base`` and ``tasks``, or ``extends``), not a run YAML."""
    return ("tasks" in data and "base" in data) or "extends" in data


def profile_configs(path: str, overrides: list[str]) -> list[tuple[str, RunConfig]]:
    """(label, run config) of each distinct (task, policy) of a sweep YAML (its first seed), or the one run of a
    run YAML; a config without a ``profile:`` section gets the default profile settings."""
    if is_sweep_yaml(read_yaml(path)):
        sweep = load_sweep(path, overrides)
        specs = expand(sweep, "/tmp/harness-profile", source=path)
        chosen: dict[str, RunConfig] = {}
        for spec in specs:
            label = safe_name(spec.task + (f"@{spec.axes['policy']}" if "policy" in spec.axes else ""))
            chosen.setdefault(label, spec.config)
        configs = list(chosen.items())
    else:
        config = load_run_config(path, overrides)
        configs = [(safe_name(config.task.name), config)]
    return [(label, dataclasses.replace(config, profile=config.profile or ProfileConfig())) for label, config in configs]


def profile(args: argparse.Namespace) -> int:
    """``python -m harness profile CONFIG.yaml``: each RM's competence on the policy's own samples, per category."""
    for flag, value, least in (("--max-prompts", args.max_prompts, 1), ("--num-samples", args.num_samples, 2)):
        if value is not None and value < least:
            raise ConfigError(f"{flag}: expected an integer >= {least}, got {value}")
    problem = unwritable_folder(args.out)
    if problem:
        raise ConfigError(f"--out: {problem}")
    configs = profile_configs(args.config, args.overrides)  # every config checked before the first measurement
    quiet_libraries()
    for label, config in configs:
        settings = dataclasses.replace(config.profile, **{k: v for k, v in (("max_prompts", args.max_prompts),
                                                                            ("num_samples", args.num_samples)) if v})
        config = dataclasses.replace(config, profile=settings)
        measured = ensure_profile(config, progress=True)
        folder = Path(args.out) / label
        write_json_atomic(folder / PROFILE, measured)
        tables = profile_tables(measured)
        for table in tables:
            write_table(table, folder)
        print(to_markdown(tables[0]))
        print(f"{label}: profile in {folder} ({measured['seconds']} s to measure; key {measured['key'][:12]})")
    return 0


def data_configs(path: str, overrides: list[str], seed: int | None) -> list[tuple[str, str, str, TaskConfig, int]]:
    """(label, source, key, task config, seed) of each distinct task and out-of-distribution task (label
    ``ood:<name>``) of a sweep YAML's runs of one seed (``seed``, default its first) or of a run YAML; the configs
    are checked as a run's are, but neither the data nor the models are looked at yet."""
    if is_sweep_yaml(read_yaml(path)):
        sweep = load_sweep(path, overrides)
        chosen = sweep.seeds[0] if seed is None else seed
        sweep = load_sweep(path, [*overrides, f"seeds=[{chosen}]"])
        configs = [(f"{path} [{spec.run_id}]", spec.config)
                   for spec in expand(sweep, "/tmp/harness-data-stats", source=path, check_data=False)]
    else:
        config = build_run_config(read_yaml(path), [*overrides, *([f"seed={seed}"] if seed is not None else [])],
                                  source=path, check_data=False)
        configs = [(path, config)]
    chosen_tasks: dict[str, tuple[str, str, str, TaskConfig, int]] = {}
    for source, config in configs:
        tasks = [("task", config.task.name, config.task)]
        tasks += [(f"ood_tasks[{i}]", f"{OOD}{task.name}", task) for i, task in enumerate(config.ood_tasks)]
        for key, label, task in tasks:
            chosen_tasks.setdefault(label, (label, source, key, task, config.seed))
    return list(chosen_tasks.values())


def data_stats(args: argparse.Namespace) -> int:
    """``python -m harness data-stats CONFIG.yaml``: examples per split and category of each task (paper Table 3),
    the data loaded and split as a run does it (``Task.splits`` at the run's seed), no model loaded."""
    problem = unwritable_folder(args.out)
    if problem:
        raise ConfigError(f"--out: {problem}")
    tasks = data_configs(args.config, args.overrides, args.seed)  # every config checked before the first load
    quiet_libraries()
    counts, load_reports = {}, {}
    for label, source, key, config, seed in tasks:
        started = time.perf_counter()
        try:
            task = get_task(config.name, config.options)
            splits = task.splits(config, seed)
        except ConfigError as error:  # as check_task_data words it: the run, the key, the problem
            raise ConfigError(f"{source}: {key}: {error}") from None
        counts[label] = block = split_counts(task, config, splits)
        if getattr(task, "load_report", None):  # what the loader filtered and kept (WildChat), as a run's task_data.json
            load_reports[label] = task.load_report
        by_category = f", {len(block['categories'])} categories" if block["per_category"] else ""
        print(f"{label}: {block['train']} train / {block['dev']} dev / {block['test']} test "
              f"({block['train'] + block['dev'] + block['test']} examples{by_category}, seed {seed}) "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
    seeds = sorted({seed for *_, seed in tasks})
    command = " ".join(["python -m harness data-stats", args.config, *args.overrides])
    table = table3(counts, footnotes=[f"Counted by {command} at seed {', '.join(map(str, seeds))}."])
    out = Path(args.out)
    written = write_table(table, out)
    write_json_atomic(out / "data_stats.json", {"config": args.config, "overrides": list(args.overrides), "seeds": seeds,
                                                "tasks": counts, "load_reports": load_reports,
                                                "task_configs": {label: to_dict(config) for label, _, _, config, _ in tasks}})
    print(to_markdown(table))
    print(f"data-stats: {len(written) + 1} files in {out}")
    return 0


def list_registries(args: argparse.Namespace) -> int:
    for title, registry in REGISTRIES.items():
        print(f"{title}:")
        for name in registry.names():
            try:
                description = registry.get(name).description
            except ImportError as error:  # an optional dependency (e.g. ray, submitit: the cluster extra)
                description = f"(unavailable here: {error.name} is not installed)"
            print(f"  {name:18s} {description}")
    return 0


def plan_configs(path: str, overrides: list[str]) -> list[tuple[str, RunConfig]]:
    """(run id, run config) of every run of a sweep YAML, or the one run of a run YAML; no data is read."""
    if is_sweep_yaml(read_yaml(path)):
        return [(spec.run_id, spec.config) for spec in expand(load_sweep(path, overrides), "/tmp/harness-plan", source=path,
                                                               check_data=False)]
    config = build_run_config(read_yaml(path), overrides, source=path, check_data=False)
    return [(f"{config.task.name}/{config.method.name}/seed{config.seed}", config)]


def plan(args: argparse.Namespace) -> int:
    """``python -m harness plan``: each distinct run's memory plan on a GPU of ``--gpu-memory`` GiB, from model configs
    only (no weights), then the sweep's GPU hours on ``--gpus`` GPUs; exit 2 when a run cannot fit."""
    if args.gpu_memory is not None and args.gpu_memory <= 2:
        raise ConfigError(f"--gpu-memory: expected GiB of one GPU above 2, got {args.gpu_memory}")
    if args.gpus < 1:
        raise ConfigError(f"--gpus: expected a positive number of GPUs, got {args.gpus}")
    quiet_libraries()
    runs = plan_configs(args.config, args.overrides)
    memory = args.gpu_memory if args.gpu_memory is not None else runs[0][1].memory.gpu_memory_gib
    try:
        groups = plan_runs(runs, device_with_memory(memory), args.gpus)
    except UnknownModelError as error:
        raise ConfigError(f"{args.config}: {error}") from None
    for group in groups:
        print(format_run_plan(group))
    print(format_summary(groups, args.gpus))
    refused = [group for group in groups if not group.plan.fits]
    if refused:
        raise ConfigError(f"{args.config}: run {refused[0].run_ids[0]} cannot fit: {refused[0].plan.refusal}")
    return 0
