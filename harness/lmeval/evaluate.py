"""One run's final policy through ``lm_eval.simple_evaluate``: the base model and the run's final LoRA adapter
(written once as a PEFT folder, ``<run>/adapter``, from the policy in memory or from the run's last checkpoint),
lm-eval's ``HFLM(pretrained=..., peft=...)``, the run's test split as a local task (``harness.lmeval.tasks``) plus
any lm-eval task names given. The results (per task: metrics, and per example the generated text and score) are
returned and written where the caller says (the run store's ``lm_eval.json``)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import datasets
import lm_eval.api.task as lm_eval_task
import lm_eval.models.huggingface as lm_eval_huggingface
import torch
from lm_eval import simple_evaluate
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager
from tqdm import tqdm

from harness.common.files import write_json_atomic
from harness.config.errors import ConfigError
from harness.config.schema import LmEvalConfig, RunConfig
from harness.lmeval.tasks import write_task_folder
from harness.models.loading import load_tokenizer, loadable_location
from harness.models.policy import POLICY_ADAPTER, Policy
from harness.models.quiet import VERBOSE_ENV, quiet_libraries
from harness.tasks.registry import get_task

ADAPTER = "adapter"


def silent_tqdm(*args: Any, **kwargs: Any) -> tqdm:
    return tqdm(*args, **{**kwargs, "disable": True})


def quiet_lm_eval() -> None:
    """lm-eval's per-request progress bars and its info chatter off (one line per run is printed instead),
    unless ``HARNESS_VERBOSE`` is set."""
    quiet_libraries()
    if os.environ.get(VERBOSE_ENV):
        return
    for module in (lm_eval_huggingface, lm_eval_task):  # they pass disable= themselves: force it
        module.tqdm = silent_tqdm
    datasets.disable_progress_bars()
    logging.getLogger("lm_eval").setLevel(logging.WARNING)


def save_adapter(folder: Path, policy: Policy) -> Path:
    """``folder/adapter``: the policy's LoRA adapter as a PEFT folder (written whole, then renamed in place)."""
    target = folder / ADAPTER
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{ADAPTER}."))
    policy.model.save_pretrained(str(staging), selected_adapters=[POLICY_ADAPTER])
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def export_adapter(folder: Path, config: RunConfig, checkpoint: Path) -> Path | None:
    """``<run>/adapter`` from the run's last checkpoint, unless it is there already; None for a run that did not
    train (its policy is the base model) or trains without LoRA."""
    target = folder / ADAPTER
    if (target / "adapter_config.json").exists():
        return target
    if not checkpoint.exists() or config.policy.lora is None:
        return None
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    policy = Policy(config.policy)
    policy.load_adapter_state(state["adapter"])
    return save_adapter(folder, policy)


def comparison(examples: list[dict[str, Any]], predictions: list[dict[str, Any]]) -> dict[str, Any]:
    """lm-eval's results on the run's own split against the harness's predictions of the same examples (by id):
    both accuracies on exactly those examples and how many responses are the same text."""
    by_id = {p["id"]: p for p in predictions}
    shared = [e for e in examples if e["id"] in by_id]
    if not shared:
        return {"examples": 0}
    return {"examples": len(shared),
            "harness_accuracy": sum(float(by_id[e["id"]]["correct"]) for e in shared) / len(shared),
            "lm_eval_accuracy": sum(e["score"] for e in shared) / len(shared),
            "same_responses": sum(e["response"] == by_id[e["id"]]["response"] for e in shared)}


def evaluate_run(folder: Path, config: RunConfig, adapter: Path | None, out: Path, settings: LmEvalConfig,
                 predictions: list[dict[str, Any]]) -> dict[str, Any]:
    """Evaluate the run's final policy (the base model with ``adapter``, or without one), compare it with the
    harness's own ``predictions`` of the test split, and write ``out``."""
    task = get_task(config.task.name, config.task.options)
    examples = task.splits(config.task, config.seed).test
    limit = settings.limit if settings.limit is not None else config.eval.max_test_examples
    examples = examples[:limit] if limit is not None else examples
    base = loadable_location(config.policy.model)
    if base.gguf_file:
        raise ConfigError(f"{folder}: policy {config.policy.model!r} is a GGUF file without a de-quantised copy; "
                          "lm-eval needs a transformers folder")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tasks_dir:
        own = write_task_folder(Path(tasks_dir), config, task, examples)
        tokenizer = load_tokenizer(config.policy.model)
        bos = tokenizer("a", add_special_tokens=True)["input_ids"] != tokenizer("a", add_special_tokens=False)["input_ids"]
        model = HFLM(pretrained=base.source, peft=str(adapter) if adapter else None, tokenizer=tokenizer, batch_size=settings.batch_size,
                     device="cpu" if not torch.cuda.is_available() else "cuda", dtype="float32", add_bos_token=bos)
        output = simple_evaluate(model=model, tasks=[own, *settings.tasks], task_manager=TaskManager(include_path=tasks_dir),
                                 limit=settings.limit,
                                 log_samples=True, bootstrap_iters=0, verbosity="WARNING",
                                 apply_chat_template=bool(config.policy.chat_template))
    results: dict[str, Any] = {"run": str(folder), "adapter": str(adapter) if adapter else None, "base": base.source,
                               "seconds": round(time.perf_counter() - started, 3), "tasks": {}}
    for name, metrics in output["results"].items():
        samples = output["samples"].get(name, [])
        results["tasks"][name] = {
            "metrics": {k.split(",")[0]: v for k, v in metrics.items() if isinstance(v, (int, float)) and "stderr" not in k},
            "examples": [{"id": s["doc"].get("id", s["doc_id"]), "response": s["filtered_resps"][0],
                          "score": s.get("acc")} for s in samples]}
    results["harness_task"] = own
    results["harness_comparison"] = comparison(results["tasks"][own]["examples"], predictions)
    write_json_atomic(out, results)
    return results
