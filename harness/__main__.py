"""Command line: ``python -m harness {run,ls,bench} ...``.

    python -m harness run CONFIG.yaml [key=value ...]   one run (method, task, seed)
    python -m harness ls                                 registered methods, tasks and reward-model kinds
    python -m harness bench [--quick]                    side-by-side speed figures
"""

from __future__ import annotations

import argparse
import sys

from harness.dataclass_parse import ConfigError


def _cmd_run(args: argparse.Namespace) -> int:
    from harness.config import load_run_config
    from harness.run import execute_run

    config = load_run_config(args.config, args.overrides)
    execute_run(config, progress=not args.quiet)
    return 0


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def _cmd_ls(args: argparse.Namespace) -> int:
    from harness.methods import METHODS
    from harness.rewards import RM_KIND_HELP, RM_KINDS
    from harness.tasks import TASKS

    print("methods:")
    for name in METHODS.names():
        print(f"  {name:18s} {METHODS.get(name).description}")
    print("tasks:")
    for name in TASKS.names():
        print(f"  {name:18s} {TASKS.get(name).description}")
    print("reward-model kinds:")
    for name in RM_KINDS.names():
        print(f"  {name:18s} {RM_KIND_HELP[name]}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from harness.bench import run_benchmarks

    run_benchmarks(quick=args.quick, model=args.model, only=args.only)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="one run: train a policy with one method on one task and seed")
    run.add_argument("config")
    run.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.iterations=2 seed=3")
    run.add_argument("--quiet", action="store_true")
    run.set_defaults(func=_cmd_run)
    ls = sub.add_parser("ls", help="list registered methods, tasks and reward-model kinds")
    ls.set_defaults(func=_cmd_ls)
    bench = sub.add_parser("bench", help="speed benchmarks, measured side by side")
    bench.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke check")
    bench.add_argument("--model", default="", help="causal LM for the sampling/scoring figures "
                                                   "(default: a random-weight SmolLM2-135M-shaped Llama)")
    bench.add_argument("--only", nargs="*", default=None, choices=["linucb", "sampling", "scoring"])
    bench.set_defaults(func=_cmd_bench)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
