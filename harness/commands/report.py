"""``python -m harness report STORE [STORE ...] --out DIR``: tables, Wilcoxon tests and figures from a run store or
the union of several (written on different machines or by different array jobs), or the paper's own tables (no
torch, no training)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands.base import Command
from harness.config.errors import ConfigError
from harness.report.write import print_calibration, write_paper_report, write_report
from harness.store.layout import REPORT_DIR


def report_after_sweep(root: Path) -> None:
    """The report a sweep (or compare) writes into its store's ``report/`` when it is done."""
    written = write_report(root, root / REPORT_DIR)
    print(f"report: {len(written)} files in {root / REPORT_DIR}")
    print_calibration(written)


class Report(Command):
    description = "tables, Wilcoxon tests and figures from a run store (no training)"

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("stores", nargs="*", metavar="STORE",
                            help="a sweep folder (<out>/<sweep name>); several are reported as one (each run counted once)")
        parser.add_argument("--out", required=True)
        parser.add_argument("--paper-only", action="store_true", help="render the paper's own tables from its numbers")
        parser.add_argument("--no-paper", action="store_true", help="leave out the paper's numbers beside ours")
        parser.add_argument("--target", action="append", default=None, metavar="LABEL",
                            help="a method label or name the significance tests put against every other row (repeatable; "
                                 "default: the sweep's report.target, else laser)")

    @staticmethod
    def main(args: argparse.Namespace) -> int:
        if args.paper_only and args.target:
            raise ConfigError("report: --target tests a run store's rows; --paper-only has none")
        if args.paper_only:
            written = write_paper_report(args.out)
        else:
            if not args.stores:
                raise ConfigError("report: give a sweep folder (<out>/<sweep name>) or --paper-only")
            written = write_report(args.stores, args.out, with_paper=not args.no_paper, targets=args.target)
        print(f"wrote {len(written)} files to {args.out}")
        print_calibration(written)
        return 0
