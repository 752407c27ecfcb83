"""Command line: ``python -m harness {sweep,run,compare,status,report,ls,bench,profile,data-stats,plan,schema} ...``.

    python -m harness sweep SWEEP.yaml [key=value ...]  every run of a sweep, resumable, then its report
    python -m harness run CONFIG.yaml [key=value ...]   one run (method, task, seed)
    python -m harness compare SWEEP.yaml [--force]      judge pairs of open-ended runs (AlpacaEval win rates)
    python -m harness status RESULTS/SWEEP              state of each run of a sweep
    python -m harness report RESULTS/SWEEP --out DIR    tables, tests and figures from stored results
    python -m harness lm-eval RESULTS/SWEEP             lm-evaluation-harness on each run's final policy
    python -m harness ls                                 registered methods, tasks, reward-model kinds, ...
    python -m harness bench [--quick]                    side-by-side speed figures
    python -m harness profile CONFIG.yaml               on-policy RM competence per prompt category
    python -m harness data-stats CONFIG.yaml            examples per split and category of each task (Table 3)
    python -m harness plan CONFIG.yaml [--gpu-memory GIB] [--gpus N]   whether each run fits a GPU, and how
    python -m harness schema                             JSON Schemas of the YAMLs, for editors

Each command's code is imported only when that command runs (``COMMANDS``), so ``report`` and ``status``
never load torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from typing import NoReturn

from harness.config.errors import ConfigError, unknown_name_message

# command -> "module:function(args) -> exit code", imported on use
COMMANDS = {
    "sweep": "harness.commands:sweep",
    "run": "harness.commands:run",
    "compare": "harness.commands:compare",
    "status": "harness.sweep.status:status_command",
    "report": "harness.report.command:report_command",
    "lm-eval": "harness.lmeval_command:lm_eval_command",
    "ls": "harness.commands:list_registries",
    "bench": "harness.bench:bench_command",
    "schema": "harness.schema:schema_command",
    "profile": "harness.commands:profile",
    "data-stats": "harness.commands:data_stats",
    "plan": "harness.commands:plan",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad command line gets the harness's one line ``error: <argument>: <problem>`` (exit 2)
    with a pointer to ``--help`` instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        message = re.sub(r"^argument ([^:]+): ", r"\1: ", message)
        choice = re.match(r"(\S+): invalid choice: '([^']*)'", message)
        if choice and choice.group(1) == "command":
            message = f"command: {unknown_name_message('command', choice.group(2), COMMANDS)}"
        fail(f"{message} (see {self.prog} --help)")


def print_error(message: str) -> int:
    """Print ``error: <message>`` on one line; returns the exit status of an expected failure, 2."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return 2


def fail(message: str) -> NoReturn:
    raise SystemExit(print_error(message))


def gpus_per_run(text: str) -> float | str:
    """``--gpus-per-run``: a number, or ``plan``."""
    if text == "plan":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of GPUs or 'plan', got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m harness", description=__doc__.split("\n")[0], allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True)
    sweep = sub.add_parser("sweep", help="run every (task, method, seed, ...) of a sweep YAML, then write its report",
                           allow_abbrev=False)
    sweep.add_argument("config")
    sweep.add_argument("overrides", nargs="*", help="key=value overrides of the sweep YAML, e.g. seeds=[0,1]")
    sweep.add_argument("--out", default="results", help="run store root (default: results/)")
    sweep.add_argument("--executor", default="local", help="local (default), ray or slurm (harness ls lists them)")
    sweep.add_argument("--workers", type=int, default=None, help="local: worker processes; ray: CPUs of a local instance; "
                                                                 "slurm: array parallelism")
    sweep.add_argument("--ray-address", default=None, help="ray: address of a running cluster ('auto'); default starts one")
    sweep.add_argument("--cpus-per-run", type=float, default=None, help="ray: CPUs per run")
    sweep.add_argument("--gpus-per-run", type=gpus_per_run, default=None,
                       help="ray: GPUs per run; 'plan' (ray, slurm): each run's GPUs and memory from its memory plan")
    sweep.add_argument("--slurm-folder", default=None, help="slurm: submitit's log folder (default slurm_logs)")
    sweep.add_argument("--slurm-cluster", default=None, help="slurm: submitit cluster: default auto (Slurm), 'local' for testing")
    sweep.add_argument("--no-report", action="store_true")
    sweep.add_argument("--verbose", action="store_true", help="keep the libraries' progress bars and warnings")
    compare = sub.add_parser("compare", help="judge a sweep's pairs of open-ended runs and write win rates", allow_abbrev=False)
    compare.add_argument("config")
    compare.add_argument("overrides", nargs="*")
    compare.add_argument("--out", default="results")
    compare.add_argument("--force", action="store_true", help="judge again pairs already judged")
    compare.add_argument("--no-report", action="store_true")
    status = sub.add_parser("status", help="table of run states of a sweep folder")
    status.add_argument("sweep_dir")
    lm_eval = sub.add_parser("lm-eval", help="lm-evaluation-harness on each finished run's final policy (its test split, "
                                            "and lm-eval's own tasks by name)")
    lm_eval.add_argument("path", help="a run folder or a sweep folder (<out>/<sweep name>)")
    lm_eval.add_argument("--tasks", nargs="*", default=[], help="lm-eval task names besides the run's own test split")
    lm_eval.add_argument("--limit", type=int, default=None, help="at most this many test examples per task")
    lm_eval.add_argument("--batch-size", type=int, default=1, help="lm-eval's generation batch size")
    report = sub.add_parser("report", help="tables, Wilcoxon tests and figures from a run store (no training)",
                            allow_abbrev=False)
    report.add_argument("sweep_dir", nargs="?", default="")
    report.add_argument("--out", required=True)
    report.add_argument("--paper-only", action="store_true", help="render the paper's own tables from its numbers")
    report.add_argument("--no-paper", action="store_true", help="leave out the paper's numbers beside ours")
    report.add_argument("--target", action="append", default=None, metavar="LABEL",
                        help="a method label or name the significance tests put against every other row (repeatable; "
                             "default: the sweep's report.target, else laser)")
    run = sub.add_parser("run", help="one run: train a policy with one method on one task and seed", allow_abbrev=False)
    run.add_argument("config")
    run.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.iterations=2 seed=3")
    run.add_argument("--quiet", action="store_true")
    run.add_argument("--verbose", action="store_true", help="keep the libraries' progress bars and warnings")
    sub.add_parser("ls", help="list registered methods, tasks, reward-model kinds, judges, bandits, ...")
    bench = sub.add_parser("bench", help="speed benchmarks, measured side by side", allow_abbrev=False)
    bench.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke check")
    bench.add_argument("--model", default="", help="causal LM for the sampling/scoring figures "
                                                   "(default: a random-weight SmolLM2-135M-shaped Llama)")
    bench.add_argument("--only", nargs="*", default=None, choices=["linucb", "sampling", "scoring", "shared_prompt", "cache", "paper-scale"],
                       help="benchmarks to run (default: all but paper-scale, which runs only when named)")
    profile = sub.add_parser("profile", help="each RM's competence on the policy's own samples (AUC, pairwise accuracy)",
                             allow_abbrev=False)
    profile.add_argument("config", help="a run or sweep YAML")
    profile.add_argument("overrides", nargs="*")
    profile.add_argument("--out", default="profiles", help="folder for profile.json and its tables (default: profiles/)")
    profile.add_argument("--max-prompts", type=int, default=None, help="training prompts per category")
    profile.add_argument("--num-samples", type=int, default=None, help="samples per prompt")
    data_stats = sub.add_parser("data-stats", help="examples per split and category of each task of a run or sweep YAML "
                                                   "(paper Table 3), loaded and split as its runs do; no model",
                                allow_abbrev=False)
    data_stats.add_argument("config", help="a run or sweep YAML")
    data_stats.add_argument("overrides", nargs="*", help="key=value overrides of the YAML, e.g. tasks.0.path=data/gsm8k")
    data_stats.add_argument("--out", default="data_stats", help="folder for table3.{tex,md,csv} and data_stats.json "
                                                                "(default: data_stats/)")
    data_stats.add_argument("--seed", type=int, default=None, help="the runs' seed whose splits are counted (default: "
                                                                   "the sweep's first seed, or the run's)")
    plan = sub.add_parser("plan", help="each run's GPU memory plan (placement, peak per stage, fits) and the sweep's GPU "
                                       "hours, from model configs only", allow_abbrev=False)
    plan.add_argument("config", help="a run or sweep YAML")
    plan.add_argument("overrides", nargs="*", help="key=value overrides of the YAML")
    plan.add_argument("--gpu-memory", type=float, default=None, help="GiB of one GPU (default: the config's "
                                                                       "memory.gpu_memory_gib, else 80)")
    plan.add_argument("--gpus", type=int, default=1, help="GPUs the sweep may use (runs in parallel; a run that "
                                                          "needs two gets two)")
    schema = sub.add_parser("schema", help="write the JSON Schemas of run and sweep YAMLs (for editors)", allow_abbrev=False)
    schema.add_argument("--out", default="", help="folder (default: experiments/schema beside the package)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    overrides = [item for item in extra if "=" in item and not item.startswith("-")]
    if len(overrides) != len(extra) or (overrides and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(extra)} (overrides are key=value)")
    if overrides:
        args.overrides = list(args.overrides) + overrides  # key=value given after an option
    if getattr(args, "verbose", False):
        os.environ["HARNESS_VERBOSE"] = "1"  # read by harness.models.quiet, here and in worker processes
    module, _, function = COMMANDS[args.command].partition(":")
    try:
        return getattr(importlib.import_module(module), function)(args)
    except ConfigError as error:  # an expected failure: bad config, data, argument or store; nothing was written
        return print_error(str(error))
