"""``python -m harness lm-eval RUN_OR_SWEEP [--tasks T ...] [--limit N]``: lm-evaluation-harness on every finished
run found (``harness.lmeval``), each run's results in its ``lm_eval.json``, where the report finds them."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands.base import Command
from harness.common.files import read_jsonl
from harness.config.active_world import using_world
from harness.config.errors import ConfigError
from harness.config.parse import from_dict
from harness.config.schema import LmEvalConfig, RunConfig
from harness.lmeval.evaluate import evaluate_run, export_adapter, quiet_lm_eval
from harness.store.layout import CHECKPOINT, CONFIG, LM_EVAL, predictions_file
from harness.store.run_folder import stored_config
from harness.store.runs import finished_run_folders


class LmEval(Command):
    description = ("lm-evaluation-harness on each finished run's final policy (its test split, and lm-eval's own "
                   "tasks by name)")

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("path", help="a run folder or a sweep folder (<out>/<sweep name>)")
        parser.add_argument("--tasks", nargs="*", default=[], help="lm-eval task names besides the run's own test split")
        parser.add_argument("--limit", type=int, default=None, help="at most this many test examples per task")
        parser.add_argument("--batch-size", type=int, default=1, help="lm-eval's generation batch size")

    @staticmethod
    def main(args: argparse.Namespace) -> int:
        if args.limit is not None and args.limit < 1:
            raise ConfigError(f"--limit: expected an integer >= 1, got {args.limit}")
        if args.batch_size < 1:
            raise ConfigError(f"--batch-size: expected an integer >= 1, got {args.batch_size}")
        settings = LmEvalConfig(tasks=list(args.tasks or []), limit=args.limit, batch_size=args.batch_size)
        folders = finished_run_folders(Path(args.path))
        quiet_lm_eval()
        for folder in folders:
            stored = stored_config(folder)
            if stored is None:
                raise ConfigError(f"{folder / CONFIG}: missing or unreadable; the run's settings are needed to rebuild its policy")
            config = from_dict(RunConfig, stored["config"], prefix=str(folder / CONFIG))
            if config.train.start != "base":
                raise ConfigError(f"{folder / CONFIG}: train.start: {config.train.start!r} runs cannot be evaluated by "
                                  f"lm-eval yet (it loads policy.model and the run's adapter, without the SFT weights)")
            with using_world(config.world):  # a world:NAME policy is the run's world's
                adapter = export_adapter(folder, config, folder / CHECKPOINT)
                predictions = read_jsonl(folder / predictions_file())
                results = evaluate_run(folder, config, adapter, folder / LM_EVAL, settings, predictions)
            same = results["harness_comparison"]
            others = ", ".join(f"{name} {task['metrics']}" for name, task in results["tasks"].items() if name != results["harness_task"])
            print(f"lm-eval {folder}: {results['harness_task']} acc {same['lm_eval_accuracy']:.4f}, harness "
                  f"{same['harness_accuracy']:.4f} on the same {same['examples']} examples, {same['same_responses']} responses "
                  f"identical, {results['seconds']:.1f} s{'; ' + others if others else ''}", flush=True)
        return 0
