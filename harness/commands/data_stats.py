"""``python -m harness data-stats CONFIG.yaml``: examples per split and category of each task of a run or sweep
YAML (paper Table 3), the data loaded and split as its runs do it; no model."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harness.commands.base import Command, add_config_arguments
from harness.common.files import unwritable_folder, write_json_atomic
from harness.config.errors import ConfigError
from harness.config.parse import read_yaml, to_dict
from harness.config.schema import TaskConfig
from harness.loop.run_config import build_run_config
from harness.models.quiet import quiet_libraries
from harness.report.data_stats import OOD, table3
from harness.report.tables import to_markdown
from harness.report.write import write_table
from harness.sweep.expand import expand, is_sweep_yaml, load_sweep
from harness.tasks.registry import get_task
from harness.tasks.split_counts import split_counts


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


class DataStats(Command):
    description = ("examples per split and category of each task of a run or sweep YAML (paper Table 3), loaded and "
                   "split as its runs do; no model")

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        add_config_arguments(parser, "a run or sweep YAML", "key=value overrides of the YAML, e.g. tasks.0.path=data/gsm8k")
        parser.add_argument("--out", default="data_stats", help="folder for table3.{tex,md,csv} and data_stats.json "
                                                                "(default: data_stats/)")
        parser.add_argument("--seed", type=int, default=None, help="the runs' seed whose splits are counted (default: "
                                                                   "the sweep's first seed, or the run's)")

    @staticmethod
    def main(args: argparse.Namespace) -> int:
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
