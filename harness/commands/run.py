"""``python -m harness run CONFIG.yaml [key=value ...]``: one run (method, task, seed) into its folder."""

from __future__ import annotations

import argparse

from harness.commands.base import Command, add_config_arguments
from harness.loop.run_config import load_run_config
from harness.models.quiet import quiet_libraries
from harness.run.execute import execute_run


class Run(Command):
    description = "one run: train a policy with one method on one task and seed"

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        add_config_arguments(parser, overrides_help="key=value overrides, e.g. train.iterations=2 seed=3")
        parser.add_argument("--quiet", action="store_true")
        parser.add_argument("--verbose", action="store_true", help="keep the libraries' progress bars and warnings")

    @staticmethod
    def main(args: argparse.Namespace) -> int:
        quiet_libraries()
        execute_run(load_run_config(args.config, args.overrides), progress=not args.quiet)
        return 0
