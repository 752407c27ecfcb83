"""``python -m harness plan CONFIG.yaml [--gpu-memory GIB] [--gpus N]``: whether each run fits a GPU and how
(placement, peak per stage), and the sweep's GPU hours, from model configs only."""

from __future__ import annotations

import argparse

from harness.commands.base import Command, add_config_arguments
from harness.config.errors import ConfigError
from harness.config.parse import read_yaml
from harness.config.schema import RunConfig
from harness.loop.run_config import build_run_config
from harness.models.quiet import quiet_libraries
from harness.plan.models import UnknownModelError
from harness.plan.placement import device_with_memory
from harness.plan.sweep_plan import plan_runs
from harness.plan.table import format_run_plan, format_summary
from harness.sweep.expand import expand, is_sweep_yaml, load_sweep


def plan_configs(path: str, overrides: list[str]) -> list[tuple[str, RunConfig]]:
    """(run id, run config) of every run of a sweep YAML, or the one run of a run YAML; no data is read."""
    if is_sweep_yaml(read_yaml(path)):
        return [(spec.run_id, spec.config) for spec in expand(load_sweep(path, overrides), "/tmp/harness-plan", source=path,
                                                               check_data=False)]
    config = build_run_config(read_yaml(path), overrides, source=path, check_data=False)
    return [(f"{config.task.name}/{config.method.name}/seed{config.seed}", config)]


class Plan(Command):
    description = ("each run's GPU memory plan (placement, peak per stage, fits) and the sweep's GPU hours, from model "
                   "configs only")

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        add_config_arguments(parser, "a run or sweep YAML", "key=value overrides of the YAML")
        parser.add_argument("--gpu-memory", type=float, default=None, help="GiB of one GPU (default: the config's "
                                                                           "memory.gpu_memory_gib, else 80)")
        parser.add_argument("--gpus", type=int, default=1, help="GPUs the sweep may use (runs in parallel; a run that "
                                                                "needs two gets two)")

    @staticmethod
    def main(args: argparse.Namespace) -> int:
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
