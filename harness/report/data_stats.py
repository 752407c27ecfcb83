"""Paper Table 3: the examples in each task's train, dev and test splits (and in each category, for a task split
within each category), beside the paper's numbers. ``table3`` builds it from counts (the ``data`` block of
``harness.tasks.split_counts``), for both of its sources: ``python -m harness data-stats`` (which loads and
splits the data as a run does, without training) and the report (from the ``data`` block of each task's
stored runs; runs of one seed share their splits).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from harness.common.files import read_json
from harness.report.layouts import task_order, task_title
from harness.report.open_tasks import category_title, sorted_categories
from harness.report.paper import paper_data
from harness.report.tables import Cell, Table
from harness.store.layout import METRICS

NAME = "table3"
SPLITS = ("train", "dev", "test")
COLUMNS = ["Train", "Dev", "Test", "Total"]
OOD = "ood:"  # label prefix of an out-of-distribution task (tested only), as in the report's ``ood:<task>`` columns
TITLES = {"wildchat": "WildChat", "longbench": "LongBench"}


def row_title(label: str) -> str:
    """A task's row: its display name; ``ood:<task>`` -> "<name> (OOD)"."""
    name = label.removeprefix(OOD)
    title = TITLES.get(name) or task_title(name)
    return f"{title} (OOD)" if label.startswith(OOD) else title


def table3(counts: dict[str, dict[str, Any]], with_paper: bool = True, footnotes: list[str] = ()) -> Table:
    """Table 3 from ``{label: data block}`` (label: the task's name, ``ood:<name>`` for an out-of-distribution
    task): a row per task, and below a task split per category a row per category ("WildChat / Creative");
    Train, Dev, Test and Total as measured, and the paper's where it has the row."""
    measured: dict[str, list[int]] = {}
    for label in sorted(counts, key=lambda label: (label.startswith(OOD), task_order(label.removeprefix(OOD)))):
        block, title = counts[label], row_title(label)
        measured[title] = [int(block[split]) for split in SPLITS]
        if block.get("per_category"):
            categories = block.get("categories") or {}
            for category in sorted_categories(categories):
                measured[f"{title} / {category_title(category)}"] = [int(categories[category][split]) for split in SPLITS]
    paper = paper_data()[NAME]["rows"] if with_paper else {}
    beside_paper = any(row in paper for row in measured)
    rows = {}
    for row, values in measured.items():
        cells = [Cell(float(v), None, 1) for v in [*values, sum(values)]]
        if beside_paper:
            cells += [Cell(float(v), None, 1) for v in paper[row]] if row in paper else [Cell(None)] * len(COLUMNS)
        rows[row] = cells
    notes = ["Total = train + dev + test."]
    if any(block.get("per_category") for block in counts.values()):
        notes.append("A task split within each category (as the paper's WildChat and LongBench, 70/10/20 per category) "
                     "lists each category below it.")
    if beside_paper:
        missing = any(row not in paper for row in rows)
        notes.append("Paper: the paper's Table 3" + ("; -- where it has no such row." if missing else "."))
    return Table(NAME, "Examples per split and category (layout of paper Table 3)",
                 ["Measured", "Paper"] if beside_paper else [""], list(COLUMNS), rows, highlight="none", decimals=0,
                 footnotes=notes + list(footnotes), stub="Dataset / category")


def shown(block: dict[str, Any]) -> tuple:
    """What Table 3 shows of a data block: the split sizes, and the categories' when split per category (a task
    split as a whole mixes its categories differently for each seed)."""
    categories = (block.get("categories") or {}) if block.get("per_category") else {}
    return tuple(block[split] for split in SPLITS), sorted((c, tuple(v[s] for s in SPLITS)) for c, v in categories.items())


def _seed_key(seed: Any) -> float:
    return float(seed) if isinstance(seed, (int, float)) and not math.isnan(seed) else math.inf


def stored_split_counts(frame: pd.DataFrame) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each task's data block (and each out-of-distribution task's) from its finished run of the lowest seed that
    recorded one, and footnotes naming the runs counted (and any task whose runs disagree)."""
    done = frame[frame["finished"]]
    runs = sorted(zip(done["seed"], done["run_id"], done["folder"], done["task"]), key=lambda r: (_seed_key(r[0]), r[1]))
    counts: dict[str, dict[str, Any]] = {}
    source: dict[str, str] = {}
    differ: list[str] = []
    for _, run_id, folder, task in runs:
        if not isinstance(task, str) or not task:
            continue
        metrics = read_json(Path(folder) / METRICS)
        blocks = {task: metrics["data"]} if "data" in metrics else {}
        blocks.update({f"{OOD}{name}": result["data"] for name, result in (metrics.get("ood") or {}).items() if "data" in result})
        for label, block in blocks.items():
            if label not in counts:
                counts[label], source[label] = block, run_id
            elif shown(block) != shown(counts[label]) and label not in differ:
                differ.append(label)
    notes = [f"Counted in the stored run{'s' if len(set(source.values())) > 1 else ''} "
             f"{', '.join(sorted(set(source.values())))} (metrics.json's data block)."] if counts else []
    notes += [f"{row_title(label)}: the runs differ in split sizes; shown: {source[label]}." for label in differ]
    return counts, notes
