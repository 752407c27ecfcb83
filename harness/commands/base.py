"""What a command of ``python -m harness`` is: a class with a one-line ``description``, its ``add_arguments`` and
its ``main`` (the parsed arguments in, the exit status out; an expected failure is a ConfigError, which the
dispatcher prints on one line)."""

from __future__ import annotations

import argparse
from typing import ClassVar


class Command:
    """Base of the commands in ``harness.commands.COMMANDS``."""

    description: ClassVar[str] = ""

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        """The command's arguments (none by default)."""

    @staticmethod
    def main(args: argparse.Namespace) -> int:
        raise NotImplementedError


def gpus_per_run(text: str) -> float | str:
    """``--gpus-per-run``: a number, or ``plan``."""
    if text == "plan":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of GPUs or 'plan', got {text!r}") from None
