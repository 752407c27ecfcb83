"""lm-eval task folders for a run: its test split as JSONL (the harness's prompt per example, the example itself)
and a task YAML that reads it offline (``dataset_path: json``), decodes greedily up to the run's
``eval.max_new_tokens`` (stopping at end-of-sequence) and scores with the harness task (``scoring.py``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import yaml

from harness.common.files import write_jsonl_atomic, write_text_atomic
from harness.config.parse import to_dict
from harness.config.schema import RunConfig
from harness.tasks.base import Example, Task

UTILS = "from harness.lmeval.scoring import process_results  # noqa: F401  (the YAML's !function)\n"


def harness_task_name(task: Task) -> str:
    """The lm-eval name of a harness task's test split (its own name, prefixed)."""
    return f"harness_{task.name}"


def write_task_folder(folder: Path, config: RunConfig, task: Task, examples: list[Example]) -> str:
    """Write ``folder/<name>.yaml``, its data and its ``utils.py``; return the task's lm-eval name."""
    name = harness_task_name(task)
    data = folder / f"{name}.jsonl"
    options = json.dumps(to_dict(config.task).get("options") or {}, sort_keys=True)
    write_jsonl_atomic(data, [{"id": e.id, "prompt": task.prompt(e), "gold": e.gold, "harness_task": task.name,
                               "task_options": options, "example": json.dumps(dataclasses.asdict(e))} for e in examples])
    spec = {"task": name, "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(data.resolve())}},
            "test_split": "test", "output_type": "generate_until", "doc_to_text": "{{prompt}}", "doc_to_target": "{{gold}}",
            "generation_kwargs": {"until": [], "do_sample": False, "max_gen_toks": config.eval.max_new_tokens},
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}]}
    text = yaml.safe_dump(spec, sort_keys=False) + "process_results: !function utils.process_results\n"
    write_text_atomic(folder / f"{name}.yaml", text)
    write_text_atomic(folder / "utils.py", UTILS)
    return name
