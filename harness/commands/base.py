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


def add_config_arguments(parser: argparse.ArgumentParser, config_help: str | None = None,
                         overrides_help: str | None = None) -> None:
    """The positional ``config`` (a YAML) and its ``key=value`` overrides, as every command that reads a config takes them."""
    parser.add_argument("config", help=config_help)
    parser.add_argument("overrides", nargs="*", help=overrides_help)


def gpus_per_run(text: str) -> float | str:
    """``--gpus-per-run``: a number, or ``plan``."""
    if text == "plan":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of GPUs or 'plan', got {text!r}") from None
