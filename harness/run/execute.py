"""One run = (method, task, seed, config): train, evaluate, and write the run folder; ``execute_in_store``
(``harness.run.in_store``) is what every executor calls.

Files in ``config.out`` (each written atomically):
- ``config.json``        the resolved config (its folders relative: ``harness.store.format``), the store format and
                         harness version, the git revision and package versions;
- ``iterations.jsonl``   one row per iteration: train loss, pairs, skipped prompts, dev accuracy, seconds per stage;
- ``selections.jsonl``   one row per step: the reward model(s) used, loss, pairs, scaled MAB reward;
- ``rm_scores.jsonl``    per-response scores of every RM, for steps scored by several (offline ensemble);
- ``predictions.jsonl``  the final policy's test predictions (per-example statistics; open-ended tasks: the
                         outputs in AlpacaEval's ``model_outputs`` format, for ``harness compare``);
- ``test_selections.jsonl`` best-of-n mode: the frozen method's RM for each test batch (per category);
- ``task_data.json``     what the task's loader filtered and kept (e.g. WildChat), when it reports that;
- ``metrics.json``       final test result (accuracy; per-category F1 / ROUGE-L; or output statistics for
                         open-ended tasks), out-of-distribution accuracy and the examples per split and category
                         (``data``, paper Table 3), what each RM resolved when built (``reward_model_settings``:
                         whether it used its chat template), where the policy started (``start``, only for
                         ``train.start: sft``: ``harness.run.sft_start``); schema ``METRICS_SCHEMA_VERSION``;
- ``plan.json``          on a GPU: the memory plan the run followed (``harness.plan``: RMs offloaded or resident,
                         rows decoded together, gradient checkpointing, each stage's planned peak);
- ``run.log``            the progress log;
- ``checkpoint.pt``      after each iteration: adapter, optimizer, method, reward-model and RNG states, so
                         an interrupted run resumes from its last completed iteration with the same result.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import torch

from harness.common.content_cache import ContentCache
from harness.common.files import write_atomic, write_json_atomic, write_jsonl_atomic
from harness.common.seeding import stable_seed
from harness.common.selection_log import all_decisions, annotate_selections, selection_metrics
from harness.config.active_world import using_world
from harness.config.parse import to_dict
from harness.config.schema import RunConfig
from harness.loop.best_of_n import BestOfNLoop
from harness.loop.evaluation import evaluate
from harness.loop.registry import LOOPS, LoopContext, loop_name
from harness.loop.trackers.run_tracking import RunTracking
from harness.models.policy import Policy
from harness.rewards.base import RewardModel
from harness.run.compose import compose
from harness.run.environment import environment_info
from harness.run.sft_start import ensure_sft_stage
from harness.selection.method import Method
from harness.selection.reporting import reporting_record
from harness.store.format import portable_locations, written_by
from harness.store.layout import (
    CHECKPOINT,
    CONFIG,
    ITERATIONS,
    LM_EVAL,
    METRICS,
    RM_SCORES,
    RUN_LOG,
    SELECTIONS,
    TEST_SELECTIONS,
    predictions_file,
)
from harness.tasks.base import Splits, Task
from harness.tasks.registry import get_task
from harness.tasks.split_counts import split_counts

METRICS_SCHEMA_VERSION = 3  # 3: "selection" (against the run's profile) replaces "world"; 2: "test" by task kind
log = logging.getLogger("harness.run")


def _attach_log_file(out: Path) -> logging.Handler:
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / RUN_LOG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("harness").addHandler(handler)
    logging.getLogger("harness").setLevel(logging.INFO)
    return handler


def _counts(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def metrics_test_block(test: dict[str, Any], config: RunConfig, trained: bool) -> dict[str, Any]:
    """metrics.json's "test": everything of the evaluation but its per-example records."""
    summary = {k: v for k, v in test.items() if k not in ("records", "seconds")}
    summary["decoding"] = f"best_of_{config.train.num_samples}" if config.mode == "best_of_n" and trained else config.eval.decoding
    return summary


def read_checkpoint(path: Path) -> dict[str, Any] | None:
    """A run's checkpoint, or None when the file cannot be read (truncated, not a torch file): it is then moved
    aside (``checkpoint.pt.unreadable-<time>``) with one warning and the run restarts from its first iteration,
    which gives the same result (every step's randomness comes from seeds, not from the process)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, ValueError) as error:
        aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, aside)
        warnings.warn(f"{path}: unreadable checkpoint ({type(error).__name__}: {str(error)[:120]}); moved aside to "
                      f"{aside.name}, the run restarts from iteration 1", RuntimeWarning, stacklevel=2)
        log.warning("unreadable checkpoint %s moved aside to %s; restarting", path, aside.name)
        return None


def execute_run(config: RunConfig, progress: bool = True) -> dict[str, Any]:
    """Run one configuration end to end and return its metrics (also written to ``metrics.json``)."""
    out = Path(config.out)
    handler = _attach_log_file(out)
    try:
        with using_world(config.world):  # the world its world:NAME models and synth_* tasks come from
            return _execute(config, out, progress)
    finally:
        logging.getLogger("harness").removeHandler(handler)
        handler.close()


def _execute(config: RunConfig, out: Path, progress: bool) -> dict[str, Any]:
    started = time.perf_counter()
    write_json_atomic(out / CONFIG, {**written_by(), "config": portable_locations(to_dict(config), out),
                                     "environment": environment_info(), "reporting": reporting_record(config)})
    start = None
    if config.train.start == "sft":  # trained once (or waited for) in its cache folder, then merged into the policy
        start = ensure_sft_stage(config, lambda stage: execute_run(stage, progress), report=log.info)
    parts = compose(config, out, start)
    config, task, splits, policy, pool = parts.config, parts.task, parts.splits, parts.policy, parts.pool
    method, cache, profile = parts.method, parts.cache, parts.profile

    def report(message: str) -> None:
        log.info(message)
        if progress:
            print(f"[{config.method.name} {task.name} seed{config.seed}] {message}", flush=True)

    tracking = RunTracking.open(config, out, run_name(config), profile)
    try:
        metrics = _train_and_evaluate(config, out, task, splits, policy, pool, method, cache, profile, tracking, report, started,
                                      start.record if start is not None else None)
    finally:
        if tracking is not None:
            tracking.close()  # a failed run's trackers are closed as failed
    return metrics


def run_lm_eval(config: RunConfig, out: Path, policy: Policy, trained: bool, predictions: list[dict[str, Any]]) -> dict[str, Any]:
    """lm-evaluation-harness on the final policy (``eval.lm_eval``): its adapter saved to ``<run>/adapter``, the
    results to ``<run>/lm_eval.json``; each task's metrics returned for metrics.json. ``harness.lmeval`` (and
    lm_eval with it) is imported here only, on use: the lmeval extra is optional."""
    lm_eval = importlib.import_module("harness.lmeval.evaluate")
    lm_eval.quiet_lm_eval()
    adapter = lm_eval.save_adapter(out, policy) if trained and config.policy.lora is not None else None
    results = lm_eval.evaluate_run(out, config, adapter, out / LM_EVAL, config.eval.lm_eval, predictions)
    return {**{name: task["metrics"] for name, task in results["tasks"].items()},
            "harness_comparison": results["harness_comparison"]}


def run_name(config: RunConfig) -> str:
    """The run's name for trackers: its folder's last three parts (``<task>/<method label>/seed<k>``)."""
    return "/".join(Path(config.out).parts[-3:])


def _train_and_evaluate(config: RunConfig, out: Path, task: Task, splits: Splits, policy: Policy,
                        pool: dict[str, RewardModel], method: Method, cache: ContentCache | None,
                        profile: dict[str, Any] | None, tracking: RunTracking | None, report: Callable[[str], None],
                        started: float, start: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train (resuming from the checkpoint), evaluate, write the metrics; the trackers get each step and the end.
    ``start``: where the policy started when not from ``policy.model`` (metrics.json's ``start``)."""
    loop = LOOPS.build(loop_name(config.mode, method.declared.trains_on), context=LoopContext(
        config, policy, task, splits, pool, method, progress=report, cache=cache,
        on_step=tracking.step if tracking is not None else None))
    checkpoint = out / CHECKPOINT
    first = 1
    state = read_checkpoint(checkpoint) if checkpoint.exists() else None
    if state is not None:
        first = loop.load_state_dict(state) + 1
        report(f"resuming after iteration {first - 1} from {checkpoint}")
        if tracking is not None:
            tracking.resume(loop.state.selections)
    iterations = config.train.iterations if method.declared.trains else 0
    for iteration in range(first, iterations + 1):
        row = loop.run_iteration(iteration)
        if tracking is not None:
            tracking.iteration(row, loop.state.global_step - 1)
        report(f"iteration {iteration} done: loss={row['train_loss']} dev={row.get('dev_accuracy')} "
               f"pairs={row['pairs']} skipped={row['skipped_prompts']} selected={row['selected']}")
        write_jsonl_atomic(out / ITERATIONS, loop.state.iterations)
        write_jsonl_atomic(out / SELECTIONS, annotate_selections(loop.state.selections, profile))
        if loop.state.rm_scores:
            write_jsonl_atomic(out / RM_SCORES, loop.state.rm_scores)
        state = loop.state_dict(iteration)
        write_atomic(checkpoint, lambda handle: torch.save(state, handle))
    # training time from the per-stage timings, so a resumed run counts every iteration once
    train_seconds = sum(v for row in loop.state.iterations for k, v in row["seconds"].items() if k != "dev_eval")

    test_selections: list[dict[str, Any]] = []
    if isinstance(loop, BestOfNLoop) and method.declared.trains:
        test, test_selections = loop.evaluate_test(splits.test, limit=config.eval.max_test_examples)
        write_jsonl_atomic(out / TEST_SELECTIONS, test_selections)
    else:
        test = evaluate(policy, task, splits.test, config.eval, stable_seed(config.seed, "test"), limit=config.eval.max_test_examples,
                        cache=cache if not loop.policy_updated else None)
    write_jsonl_atomic(out / predictions_file(), test["records"])
    ood = {}
    for ood_config in config.ood_tasks:
        ood_task = get_task(ood_config.name, ood_config.options)
        ood_splits = ood_task.splits(ood_config, config.seed)
        result = evaluate(policy, ood_task, ood_splits.test, config.eval,
                          stable_seed(config.seed, "ood", ood_config.name), limit=config.eval.max_test_examples)
        write_jsonl_atomic(out / predictions_file(ood_config.name), result["records"])
        ood[ood_config.name] = {**{k: v for k, v in result.items() if k != "records"},
                                "data": split_counts(ood_task, ood_config, ood_splits)}
    counts = _counts(decision["reward_model"] for decision in all_decisions(loop.state.selections))
    selection = selection_metrics(annotate_selections(loop.state.selections, profile))
    metrics = {
        "schema_version": METRICS_SCHEMA_VERSION,
        "method": config.method.name, "method_args": config.method.args, "task": task.name, "seed": config.seed,
        "policy": config.policy.model, "reward_models": [rm.name for rm in config.reward_models],
        "reward_model_settings": {name: record for name, rm in pool.items() if (record := rm.record())},
        "loss": config.train.loss, "iterations": config.train.iterations, "steps": loop.state.global_step,
        "mode": config.mode, "task_kind": task.kind,
        "test": metrics_test_block(test, config, method.declared.trains),
        "data": split_counts(task, config.task, splits),   # paper Table 3: examples per split and category
        "ood": ood,
        "final_dev_accuracy": loop.state.iterations[-1].get("dev_accuracy") if loop.state.iterations else None,
        "selection_counts": counts,
        "test_selection_counts": _counts(row["reward_model"] for row in test_selections),
        "train_seconds": round(train_seconds, 3), "total_seconds": round(time.perf_counter() - started, 3),
    }
    if selection:
        metrics["selection"] = selection
    if start is not None:  # absent: the run started from policy.model (train.start: base)
        metrics["start"] = start
    if cache is not None:
        metrics["shared_cache"] = {"hits": cache.hits, "misses": cache.misses}
    if config.eval.lm_eval is not None:  # before metrics.json: a failing lm-eval is a failed (resumable) run
        metrics["lm_eval"] = run_lm_eval(config, out, policy, method.declared.trains and loop.policy_updated, test["records"])
    write_json_atomic(out / METRICS, metrics)
    if tracking is not None:
        tracking.finish(metrics)
    headline = {k: v for k, v in metrics["test"].items() if k in ("accuracy", "score", "mean_output_chars")}
    report(f"test {headline} on {test['num_examples']} examples -> {out / METRICS}")
    return metrics


