"""Command line: ``python -m harness {sweep,run,compare,status,report,ls,bench} ...``.

    python -m harness sweep SWEEP.yaml [key=value ...]  every run of a sweep, resumable, then its report
    python -m harness run CONFIG.yaml [key=value ...]   one run (method, task, seed)
    python -m harness compare SWEEP.yaml [--force]      judge pairs of open-ended runs (AlpacaEval win rates)
    python -m harness status RESULTS/SWEEP              state of each run of a sweep
    python -m harness report RESULTS/SWEEP --out DIR    tables, tests and figures from stored results
    python -m harness ls                                 registered methods, tasks, reward-model kinds and judges
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


def _cmd_sweep(args: argparse.Namespace) -> int:
    from harness.executors import ExecutorConfig
    from harness.orchestrate import run_sweep

    executor = ExecutorConfig(kind=args.executor, workers=args.workers, ray_address=args.ray_address,
                              gpus_per_run=args.gpus_per_run, cpus_per_run=args.cpus_per_run,
                              slurm_folder=args.slurm_folder, slurm_cluster=args.slurm_cluster)
    return run_sweep(args.config, args.overrides, args.out, executor, report=not args.no_report)


def _cmd_compare(args: argparse.Namespace) -> int:
    from harness.orchestrate import compare_sweep

    return compare_sweep(args.config, args.overrides, args.out, force=args.force, report=not args.no_report)


def _cmd_status(args: argparse.Namespace) -> int:
    from harness.orchestrate import sweep_status

    return sweep_status(args.sweep_dir)


def _cmd_report(args: argparse.Namespace) -> int:
    from harness.report import write_paper_report, write_report

    if args.paper_only:
        written = write_paper_report(args.out)
    else:
        if not args.sweep_dir:
            raise ConfigError("report: give a sweep folder (<out>/<sweep name>) or --paper-only")
        written = write_report(args.sweep_dir, args.out, with_paper=not args.no_paper)
    print(f"wrote {len(written)} files to {args.out}")
    return 0


def _cmd_ls(args: argparse.Namespace) -> int:
    from harness.methods import METHODS
    from harness.rewards import RM_KINDS
    from harness.tasks import TASKS

    print("methods:")
    for name in METHODS.names():
        print(f"  {name:18s} {METHODS.get(name).description}")
    print("tasks:")
    for name in TASKS.names():
        print(f"  {name:18s} {TASKS.get(name).description}")
    print("reward-model kinds:")
    for name in RM_KINDS.names():
        print(f"  {name:18s} {RM_KINDS.get(name).description}")
    from harness.judges import JUDGES

    print("judges (compare):")
    for name in JUDGES.names():
        print(f"  {name:18s} {JUDGES.get(name).description}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from harness.bench import run_benchmarks

    run_benchmarks(quick=args.quick, model=args.model, only=args.only)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sweep = sub.add_parser("sweep", help="run every (task, method, seed, ...) of a sweep YAML, then write its report")
    sweep.add_argument("config")
    sweep.add_argument("overrides", nargs="*", help="key=value overrides of the sweep YAML, e.g. seeds=[0,1]")
    sweep.add_argument("--out", default="results", help="run store root (default: results/)")
    sweep.add_argument("--executor", default="local", choices=["local", "ray", "slurm"])
    sweep.add_argument("--workers", type=int, default=1, help="local: worker processes; ray: CPUs of a local instance")
    sweep.add_argument("--ray-address", default=None, help="ray: address of a running cluster ('auto'); default starts one")
    sweep.add_argument("--cpus-per-run", type=float, default=1.0)
    sweep.add_argument("--gpus-per-run", type=float, default=0.0)
    sweep.add_argument("--slurm-folder", default="slurm_logs")
    sweep.add_argument("--slurm-cluster", default=None, help="submitit cluster: default auto (Slurm), 'local' for testing")
    sweep.add_argument("--no-report", action="store_true")
    sweep.set_defaults(func=_cmd_sweep)
    compare = sub.add_parser("compare", help="judge a sweep's pairs of open-ended runs and write win rates")
    compare.add_argument("config")
    compare.add_argument("overrides", nargs="*")
    compare.add_argument("--out", default="results")
    compare.add_argument("--force", action="store_true", help="judge again pairs already judged")
    compare.add_argument("--no-report", action="store_true")
    compare.set_defaults(func=_cmd_compare)
    status = sub.add_parser("status", help="table of run states of a sweep folder")
    status.add_argument("sweep_dir")
    status.set_defaults(func=_cmd_status)
    report = sub.add_parser("report", help="tables, Wilcoxon tests and figures from a run store (no training)")
    report.add_argument("sweep_dir", nargs="?", default="")
    report.add_argument("--out", required=True)
    report.add_argument("--paper-only", action="store_true", help="render the paper's own tables from its numbers")
    report.add_argument("--no-paper", action="store_true", help="leave out the paper's numbers beside ours")
    report.set_defaults(func=_cmd_report)
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
    bench.add_argument("--only", nargs="*", default=None, choices=["linucb", "sampling", "scoring", "shared_prompt", "cache"])
    bench.set_defaults(func=_cmd_bench)
    args, extra = parser.parse_known_args(argv)
    overrides = [item for item in extra if "=" in item and not item.startswith("-")]
    if len(overrides) != len(extra) or (overrides and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if overrides:
        args.overrides = list(args.overrides) + overrides  # key=value given after an option
    try:
        return args.func(args)
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
