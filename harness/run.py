"""One run = (method, task, seed, config): train, evaluate, and write the run folder.

Files in ``config.out`` (each written atomically):
- ``config.json``        the resolved config, the git revision and package versions;
- ``iterations.jsonl``   one row per iteration: train loss, pairs, skipped prompts, dev accuracy, seconds per stage;
- ``selections.jsonl``   one row per step: the reward model(s) used, loss, pairs, scaled MAB reward;
- ``rm_scores.jsonl``    per-response scores of every RM, for steps scored by several (offline ensemble);
- ``predictions.jsonl``  the final policy's test predictions (per-example statistics; open-ended tasks: the
                         outputs in AlpacaEval's ``model_outputs`` format, for ``harness compare``);
- ``test_selections.jsonl`` best-of-n mode: the frozen method's RM for each test batch (per category);
- ``task_data.json``     what the task's loader filtered and kept (e.g. WildChat), when it reports that;
- ``metrics.json``       final test result (accuracy; per-category F1 / ROUGE-L; or output statistics for
                         open-ended tasks) and out-of-distribution accuracy; schema ``METRICS_SCHEMA_VERSION``;
- ``run.log``            the progress log;
- ``checkpoint.pt``      after each iteration: adapter, optimizer, method, reward-model and RNG states, so
                         an interrupted run resumes from its last completed iteration with the same result.
"""

from __future__ import annotations

import logging
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from harness.cache import ContentCache
from harness.config import RunConfig
from harness.dataclass_parse import to_dict
from harness.evaluation import evaluate
from harness.io import write_json_atomic, write_jsonl_atomic, write_torch_atomic
from harness.methods import build_method
from harness.policy import Policy
from harness.rewards import build_reward_models
from harness.tasks import get_task
from harness.seeding import stable_seed
from harness.training import TrainingLoop, TrainingState
from harness.best_of_n import BestOfNLoop

METRICS_SCHEMA_VERSION = 2  # 2: "test" holds accuracy, or per-category scores, or output statistics
log = logging.getLogger("harness.run")


def environment_info() -> dict[str, Any]:
    versions = {}
    for package in ("harness", "torch", "transformers", "peft", "trl", "datasets", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        revision = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                  cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        revision = None
    return {"git_revision": revision, "versions": versions, "python": platform.python_version(),
            "cuda": torch.cuda.is_available()}


def _attach_log_file(out: Path) -> logging.Handler:
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("harness").addHandler(handler)
    logging.getLogger("harness").setLevel(logging.INFO)
    return handler


CHECKPOINT = "checkpoint.pt"


def save_checkpoint(path: Path, loop: TrainingLoop, iteration: int) -> None:
    write_torch_atomic(path, {
        "iteration": iteration,
        "adapter": loop.policy.adapter_state(),
        "optimizer": loop.trainer.optimizer.state_dict(),
        "method": loop.method.state_dict(),
        "reward_models": {name: rm.state_dict() for name, rm in loop.pool.items()},
        "loop": {"iterations": loop.state.iterations, "selections": loop.state.selections,
                 "rm_scores": loop.state.rm_scores, "global_step": loop.state.global_step},
        "torch_rng": torch.get_rng_state(),
    })


def restore_checkpoint(path: Path, loop: TrainingLoop) -> int:
    """Load a checkpoint into a freshly built loop; returns the last completed iteration."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    loop.policy.load_adapter_state(state["adapter"])
    loop.trainer.optimizer.load_state_dict(state["optimizer"])
    loop.method.load_state_dict(state["method"])
    for name, rm_state in state["reward_models"].items():
        loop.pool[name].load_state_dict(rm_state)
    loop.state = TrainingState(**state["loop"])
    loop.policy_updated = loop.trains_policy and any(step["loss"] is not None for step in loop.state.selections)
    torch.set_rng_state(state["torch_rng"])
    return int(state["iteration"])


def world_selection_metrics(config: RunConfig, task, selections: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the truth is known (the synthetic world): how often the method chose the task's most
    competent RM, and its regret in RM ranking accuracy against always choosing it."""
    competence_of = getattr(task, "reward_model_competence", None)
    if competence_of is None or not selections:
        return {}
    competence = competence_of()
    accuracy = {rm.name: competence.get(rm.model[len("world:"):]) for rm in config.reward_models
                if rm.kind == "loglik" and rm.model.startswith("world:")}
    accuracy = {name: value for name, value in accuracy.items() if value is not None}
    if not accuracy:
        return {}
    best = max(accuracy, key=accuracy.get)
    regrets = [accuracy[best] - accuracy[s["reward_model"]] for s in selections if s["reward_model"] in accuracy]
    return {"best_rm": best, "best_rm_accuracy": accuracy[best],
            "best_rm_share": sum(s["reward_model"] == best for s in selections) / len(selections),
            "regret": float(sum(regrets)) if regrets else None,
            "mean_regret": float(sum(regrets) / len(regrets)) if regrets else None,
            "scored_steps": len(regrets)}


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


def execute_run(config: RunConfig, progress: bool = True) -> dict[str, Any]:
    """Run one configuration end to end and return its metrics (also written to ``metrics.json``)."""
    out = Path(config.out)
    handler = _attach_log_file(out)
    try:
        return _execute(config, out, progress)
    finally:
        logging.getLogger("harness").removeHandler(handler)
        handler.close()


def _execute(config: RunConfig, out: Path, progress: bool) -> dict[str, Any]:
    started = time.perf_counter()
    write_json_atomic(out / "config.json", {"config": to_dict(config), "environment": environment_info()})
    torch.manual_seed(stable_seed(config.seed, "init"))
    task = get_task(config.task.name, config.task.options)
    splits = task.splits(config.task, config.seed)
    log.info("task %s: %d train / %d dev / %d test", task.name, len(splits.train), len(splits.dev), len(splits.test))
    if getattr(task, "load_report", None):
        write_json_atomic(out / "task_data.json", task.load_report)
    policy = Policy(config.policy)
    cache = ContentCache(Path(config.cache_dir) / "content.sqlite") if config.cache_dir else None
    pool = build_reward_models(config.reward_models, task.gold_reward, config.seed, cache=cache)
    method = build_method(config.method.name, config.method.args, [rm.name for rm in config.reward_models],
                          config.seed, config.best_rm)

    def report(message: str) -> None:
        log.info(message)
        if progress:
            print(f"[{config.method.name} {task.name} seed{config.seed}] {message}", flush=True)

    loop_class = BestOfNLoop if config.mode == "best_of_n" else TrainingLoop
    loop = loop_class(config, policy, task, splits, pool, method, progress=report, cache=cache)
    checkpoint = out / CHECKPOINT
    first = 1
    if checkpoint.exists():
        first = restore_checkpoint(checkpoint, loop) + 1
        report(f"resuming after iteration {first - 1} from {checkpoint}")
    iterations = config.train.iterations if method.trains else 0
    for iteration in range(first, iterations + 1):
        row = loop.run_iteration(iteration)
        report(f"iteration {iteration} done: loss={row['train_loss']} dev={row.get('dev_accuracy')} "
               f"pairs={row['pairs']} skipped={row['skipped_prompts']} selected={row['selected']}")
        write_jsonl_atomic(out / "iterations.jsonl", loop.state.iterations)
        write_jsonl_atomic(out / "selections.jsonl", loop.state.selections)
        if loop.state.rm_scores:
            write_jsonl_atomic(out / "rm_scores.jsonl", loop.state.rm_scores)
        save_checkpoint(checkpoint, loop, iteration)
    # training time from the per-stage timings, so a resumed run counts every iteration once
    train_seconds = sum(v for row in loop.state.iterations for k, v in row["seconds"].items() if k != "dev_eval")

    test_selections: list[dict[str, Any]] = []
    if isinstance(loop, BestOfNLoop) and method.trains:
        test, test_selections = loop.evaluate_test(splits.test, limit=config.eval.max_test_examples)
        write_jsonl_atomic(out / "test_selections.jsonl", test_selections)
    else:
        test = evaluate(policy, task, splits.test, config.eval, stable_seed(config.seed, "test"), limit=config.eval.max_test_examples,
                        cache=cache if not loop.policy_updated else None)
    write_jsonl_atomic(out / "predictions.jsonl", test["records"])
    ood = {}
    for ood_config in config.ood_tasks:
        ood_task = get_task(ood_config.name, ood_config.options)
        result = evaluate(policy, ood_task, ood_task.splits(ood_config, config.seed).test, config.eval,
                          stable_seed(config.seed, "ood", ood_config.name), limit=config.eval.max_test_examples)
        write_jsonl_atomic(out / f"predictions_{ood_config.name}.jsonl", result["records"])
        ood[ood_config.name] = {k: v for k, v in result.items() if k != "records"}
    counts = _counts(row["reward_model"] for row in loop.state.selections)
    world = world_selection_metrics(config, task, loop.state.selections)
    metrics = {
        "schema_version": METRICS_SCHEMA_VERSION,
        "method": config.method.name, "method_args": config.method.args, "task": task.name, "seed": config.seed,
        "policy": config.policy.model, "reward_models": [rm.name for rm in config.reward_models],
        "loss": config.train.loss, "iterations": config.train.iterations, "steps": loop.state.global_step,
        "mode": config.mode, "task_kind": task.kind,
        "test": metrics_test_block(test, config, method.trains),
        "ood": ood,
        "final_dev_accuracy": loop.state.iterations[-1].get("dev_accuracy") if loop.state.iterations else None,
        "selection_counts": counts,
        "test_selection_counts": _counts(row["reward_model"] for row in test_selections),
        "train_seconds": round(train_seconds, 3), "total_seconds": round(time.perf_counter() - started, 3),
    }
    if world:
        metrics["world"] = world
    if cache is not None:
        metrics["shared_cache"] = {"hits": cache.hits, "misses": cache.misses}
    write_json_atomic(out / "metrics.json", metrics)
    headline = {k: v for k, v in metrics["test"].items() if k in ("accuracy", "score", "mean_output_chars")}
    report(f"test {headline} on {test['num_examples']} examples -> {out / 'metrics.json'}")
    return metrics
