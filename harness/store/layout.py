"""The run store's layout: the name of every file and folder a sweep writes, and how a run's folder is named.

``<out>/<sweep>/`` holds ``sweep.json`` (the manifest, ``harness.store.manifest``), one folder per run
``<task>/<method label>[@axis=value,...]/seed<k>/`` (its files: ``harness.store.run_folder``), the judged
comparisons under ``comparisons/``, the shared content cache under ``.cache/`` and the report under ``report/``.
Nothing in ``harness.store`` imports torch: the report and ``status`` read the store through it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# a sweep folder
MANIFEST, REPORT_DIR, CACHE_DIR, COMPARISONS_DIR = "sweep.json", "report", ".cache", "comparisons"
CONTENT_CACHE = "content.sqlite"
# a run folder
CONFIG, METRICS, ITERATIONS, SELECTIONS = "config.json", "metrics.json", "iterations.jsonl", "selections.jsonl"
RM_SCORES, TEST_SELECTIONS, TASK_DATA = "rm_scores.jsonl", "test_selections.jsonl", "task_data.json"
RUN_LOG, CHECKPOINT, LOCK, ERROR = "run.log", "checkpoint.pt", ".lock", "error.json"
LEASE = ".lease"          # who runs the run, touched while it runs (harness.store.lock: safe on network filesystems)
PROFILE = "profile.json"   # the on-policy RM competence the run was measured against (harness.profile)
PLAN = "plan.json"         # on a GPU: the memory plan the run followed (harness.plan)
LM_EVAL = "lm_eval.json"   # lm-evaluation-harness results of the run's final policy (harness.lmeval)
# a comparison folder
ANNOTATIONS, WINRATES = "annotations.json", "winrates.json"

DONE, RUNNING, FAILED, PARTIAL, PENDING = "done", "running", "failed", "partial", "pending"


def predictions_file(task: str | None = None) -> str:
    """The test predictions of a run on its own task, or on an out-of-distribution ``task``."""
    return "predictions.jsonl" if task is None else f"predictions_{task}.jsonl"


def safe_name(text: Any) -> str:
    """A folder name: anything but letters, digits and ``._=,+@-`` becomes ``-``."""
    return re.sub(r"[^A-Za-z0-9._=,+@-]+", "-", str(text))


def axes_suffix(axes: dict[str, Any]) -> str:
    return ("@" + ",".join(f"{k}={v}" for k, v in axes.items())) if axes else ""


def run_id(task: str, label: str, axes: dict[str, Any], seed: int) -> str:
    """``<task>/<method label>[@axes]/seed<k>``, a run's folder relative to its sweep folder."""
    return f"{safe_name(task)}/{safe_name(label + axes_suffix(axes))}/seed{seed}"


def comparison_folder(root: Path, task: str, model: str, baseline: str, axes: dict[str, Any], seed: int) -> Path:
    return root / COMPARISONS_DIR / safe_name(task) / safe_name(f"{model}__vs__{baseline}{axes_suffix(axes)}") / f"seed{seed}"
