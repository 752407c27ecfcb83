"""``python -m harness status SWEEP_DIR``: the state of every run of a sweep, read from the store alone."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from harness.commands.base import Command
from harness.store.runs import run_statuses


def sweep_status(root: str | Path) -> int:
    """Print one line per run (id, state, detail) and the totals."""
    rows = run_statuses(root)
    width = max(len(row.run_id) for row in rows)
    for row in rows:
        print(f"{row.run_id:{width}s}  {row.state:8s}  {row.detail}")
    totals = Counter(row.state for row in rows)
    print("total: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))
    return 0


class Status(Command):
    description = "table of run states of a sweep folder"

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("sweep_dir")

    @staticmethod
    def main(args: argparse.Namespace) -> int:
        return sweep_status(args.sweep_dir)
