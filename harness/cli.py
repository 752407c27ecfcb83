"""Command line: ``python -m harness COMMAND ...``; the commands are ``harness.commands.COMMANDS`` (``python -m
harness --help`` lists them). Only the module of the command that runs is imported, so ``report`` and ``status``
never load torch; an expected failure (a ConfigError: bad config, data, argument or store) is one line, exit 2."""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import NoReturn

from harness.commands import COMMANDS
from harness.config.errors import ConfigError, unknown_name_message


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad command line gets the harness's one line ``error: <argument>: <problem>`` (exit 2)
    with a pointer to ``--help`` instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        message = re.sub(r"^argument ([^:]+): ", r"\1: ", message)
        choice = re.match(r"(\S+): invalid choice: '([^']*)'", message)
        if choice and choice.group(1) == "command":
            message = f"command: {unknown_name_message('command', choice.group(2), COMMANDS.names())}"
        fail(f"{message} (see {self.prog} --help)")


def print_error(message: str) -> int:
    """Print ``error: <message>`` on one line; returns the exit status of an expected failure, 2."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return 2


def fail(message: str) -> NoReturn:
    raise SystemExit(print_error(message))


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``selected``, only that command's module is imported and given its arguments (the others
    are listed by name), else every command's."""
    parser = OneLineParser(prog="python -m harness", description="Reproduce and extend LASeR's tables: sweeps of reward-model "
                                                                  "selection methods, their run store and its report.",
                           allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS.names():
        if selected not in (None, name):
            sub.add_parser(name)
            continue
        command = COMMANDS.get(name)
        command.add_arguments(sub.add_parser(name, help=command.description, description=command.description,
                                             allow_abbrev=False))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    selected = next((word for word in argv if not word.startswith("-")), None)
    parser = build_parser(selected if selected in COMMANDS.names() else None)
    args, extra = parser.parse_known_args(argv)
    overrides = [item for item in extra if "=" in item and not item.startswith("-")]
    if len(overrides) != len(extra) or (overrides and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(extra)} (overrides are key=value)")
    if overrides:
        args.overrides = list(args.overrides) + overrides  # key=value given after an option
    if getattr(args, "verbose", False):
        os.environ["HARNESS_VERBOSE"] = "1"  # read by harness.models.quiet, here and in worker processes
    try:
        return COMMANDS.get(args.command).main(args)
    except ConfigError as error:  # an expected failure: bad config, data, argument or store; nothing was written
        return print_error(str(error))
