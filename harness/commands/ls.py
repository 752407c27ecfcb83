"""``python -m harness ls``: every registry's entries (methods, tasks, reward-model kinds, ...) with their
one-line descriptions."""

from __future__ import annotations

import argparse

from harness.commands.base import Command
from harness.commands.catalog import REGISTRIES


class List(Command):
    description = "list registered methods, tasks, reward-model kinds, judges, bandits, ..."

    @staticmethod
    def main(args: argparse.Namespace) -> int:
        for title, registry in REGISTRIES.items():
            print(f"{title}:")
            for name in registry.names():
                try:
                    description = registry.get(name).description
                except ImportError as error:  # an optional dependency (e.g. ray, submitit: the cluster extra)
                    description = f"(unavailable here: {error.name} is not installed)"
                print(f"  {name:18s} {description}")
        return 0
