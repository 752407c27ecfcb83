"""``python -m harness compare SWEEP.yaml [--force]``: judge a sweep's pairs of open-ended runs (AlpacaEval win
rates) from their stored outputs, then write the report."""

from __future__ import annotations

import argparse

from harness.commands.base import Command, add_config_arguments
from harness.commands.report import report_after_sweep
from harness.models.quiet import quiet_libraries
from harness.sweep.run_sweep import compare_sweep


class Compare(Command):
    description = "judge a sweep's pairs of open-ended runs and write win rates"

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        add_config_arguments(parser)
        parser.add_argument("--out", default="results")
        parser.add_argument("--force", action="store_true", help="judge again pairs already judged")
        parser.add_argument("--no-report", action="store_true")

    @staticmethod
    def main(args: argparse.Namespace) -> int:
        quiet_libraries()
        root = compare_sweep(args.config, args.overrides, args.out, force=args.force)
        if not args.no_report:
            report_after_sweep(root)
        return 0
