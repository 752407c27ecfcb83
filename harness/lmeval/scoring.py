"""The ``process_results`` of the task YAMLs ``harness.lmeval.tasks`` writes: lm-eval's generated text scored by
the harness task's own answer check, so both evaluations extract and compare answers alike."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from harness.tasks.base import Example, Task
from harness.tasks.registry import get_task


@lru_cache(maxsize=None)
def _task(name: str, options: str) -> Task:
    return get_task(name, json.loads(options))


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    task = _task(doc["harness_task"], doc["task_options"])
    example = Example(**json.loads(doc["example"]))
    return {"acc": float(task.score(results[0], example))}
