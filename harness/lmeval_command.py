"""``python -m harness lm-eval RUN_OR_SWEEP [--tasks T ...] [--limit N]``: lm-evaluation-harness on every finished
run found (``harness.lmeval``), each run's results in its ``lm_eval.json``, where the report finds them."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.common.files import read_json, read_jsonl
from harness.config.errors import ConfigError
from harness.config.parse import from_dict
from harness.config.schema import LmEvalConfig, RunConfig
from harness.lmeval.evaluate import evaluate_run, export_adapter, quiet_lm_eval
from harness.report.runs import run_folder, run_folders
from harness.sweep.layout import CHECKPOINT, CONFIG, LM_EVAL, finished_metrics, predictions_file


def finished_runs(path: Path) -> list[Path]:
    """The run itself, or the finished runs of a run store (``harness.report.runs.run_folders``)."""
    if (path / CONFIG).exists():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"{path}: no run or sweep folder there")
    finished = [folder for folder in (run_folder(path, run) for run in run_folders(path)) if finished_metrics(folder) is not None]
    if not finished:
        raise ConfigError(f"{path}: no finished run to evaluate")
    return finished


def lm_eval_command(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit: expected an integer >= 1, got {args.limit}")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size: expected an integer >= 1, got {args.batch_size}")
    settings = LmEvalConfig(tasks=list(args.tasks or []), limit=args.limit, batch_size=args.batch_size)
    folders = finished_runs(Path(args.path))
    quiet_lm_eval()
    for folder in folders:
        config = from_dict(RunConfig, read_json(folder / CONFIG)["config"], prefix=str(folder / CONFIG))
        adapter = export_adapter(folder, config, folder / CHECKPOINT)
        predictions = read_jsonl(folder / predictions_file())
        results = evaluate_run(folder, config, adapter, folder / LM_EVAL, settings, predictions)
        same = results["harness_comparison"]
        others = ", ".join(f"{name} {task['metrics']}" for name, task in results["tasks"].items() if name != results["harness_task"])
        print(f"lm-eval {folder}: {results['harness_task']} acc {same['lm_eval_accuracy']:.4f}, harness "
              f"{same['harness_accuracy']:.4f} on the same {same['examples']} examples, {same['same_responses']} responses "
              f"identical, {results['seconds']:.1f} s{'; ' + others if others else ''}", flush=True)
    return 0
