"""``python -m harness sweep SWEEP.yaml [key=value ...]``: every run of a sweep, resumable, then its report."""

from __future__ import annotations

import argparse
import dataclasses

from harness.commands.base import Command, add_config_arguments, gpus_per_run
from harness.commands.report import report_after_sweep
from harness.config.errors import ConfigError
from harness.models.quiet import quiet_libraries
from harness.sweep.dry_run import dry_run
from harness.sweep.executors.base import Executor
from harness.sweep.executors.registry import EXECUTORS, build_executor
from harness.sweep.run_sweep import run_sweep

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


class Sweep(Command):
    description = "run every (task, method, seed, ...) of a sweep YAML, then write its report"

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        add_config_arguments(parser, overrides_help="key=value overrides of the sweep YAML, e.g. seeds=[0,1]")
        parser.add_argument("--out", default="results", help="run store root (default: results/)")
        parser.add_argument("--executor", default="local", help="local (default), ray or slurm (harness ls lists them)")
        parser.add_argument("--workers", type=int, default=None, help="local: worker processes; ray: CPUs of a local instance; "
                                                                      "slurm: array parallelism")
        parser.add_argument("--ray-address", default=None, help="ray: address of a running cluster ('auto'); default starts one")
        parser.add_argument("--cpus-per-run", type=float, default=None, help="ray: CPUs per run")
        parser.add_argument("--gpus-per-run", type=gpus_per_run, default=None,
                            help="ray: GPUs per run; 'plan' (ray, slurm): each run's GPUs and memory from its memory plan")
        parser.add_argument("--slurm-folder", default=None, help="slurm: submitit's log folder (default slurm_logs)")
        parser.add_argument("--slurm-cluster", default=None, help="slurm: submitit cluster: default auto (Slurm), 'local' for testing")
        parser.add_argument("--no-report", action="store_true")
        parser.add_argument("--dry-run", action="store_true",
                            help="list the runs (and their state) and the synthetic worlds they need; build and run nothing")
        parser.add_argument("--verbose", action="store_true", help="keep the libraries' progress bars and warnings")

    @staticmethod
    def main(args: argparse.Namespace) -> int:
        quiet_libraries()
        if args.dry_run:
            print("\n".join(dry_run(args.config, args.overrides, args.out)))
            return 0
        result = run_sweep(args.config, args.overrides, args.out, executor_from_args(args))
        if not args.no_report and result.done:
            report_after_sweep(result.root)
        if result.busy:
            print(f"sweep incomplete: {result.busy} run(s) still running in another process; the report lacks them "
                  "(rerun the sweep, or `python -m harness report`, once they have finished)")
        return result.exit_code
