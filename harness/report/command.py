"""``python -m harness report``: a report from a run store, or the paper's own tables (no torch, no training)."""

from __future__ import annotations

import argparse

from harness.config.errors import ConfigError
from harness.report.write import print_calibration, write_paper_report, write_report


def report_command(args: argparse.Namespace) -> int:
    if args.paper_only and args.target:
        raise ConfigError("report: --target tests a run store's rows; --paper-only has none")
    if args.paper_only:
        written = write_paper_report(args.out)
    else:
        if not args.sweep_dir:
            raise ConfigError("report: give a sweep folder (<out>/<sweep name>) or --paper-only")
        written = write_report(args.sweep_dir, args.out, with_paper=not args.no_paper, targets=args.target)
    print(f"wrote {len(written)} files to {args.out}")
    print_calibration(written)
    return 0
