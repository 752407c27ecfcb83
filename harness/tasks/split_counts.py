"""How many examples a task's splits hold, in all and per category (paper Table 3): the ``data`` block a run
writes to metrics.json and ``python -m harness data-stats`` counts without training.

``{"train": n, "dev": n, "test": n, "per_category": bool, "categories": {category: {"train": n, ...}}}``;
``per_category`` says the split was made within each category (tasks batched by category: WildChat,
LongBench), which is when the paper's Table 3 lists the categories. Examples without a category are counted
in the totals only.
"""

from __future__ import annotations

from typing import Any

from harness.config.schema import TaskConfig
from harness.tasks.base import Splits, Task

SPLITS = ("train", "dev", "test")


def split_counts(task: Task, config: TaskConfig, splits: Splits) -> dict[str, Any]:
    """The sizes of ``splits`` (made by ``task.splits(config, seed)``) as metrics.json's ``data`` block."""
    categories: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        for example in getattr(splits, split):
            if example.category is not None:
                categories.setdefault(example.category, dict.fromkeys(SPLITS, 0))[split] += 1
    return {**{split: len(getattr(splits, split)) for split in SPLITS}, "per_category": task.groups_by_category(config),
            "categories": dict(sorted(categories.items()))}
