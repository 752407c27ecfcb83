"""Reading a run store (a sweep folder) into a flat table of finished runs; JSON only, no torch."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from harness.common.files import read_json, read_jsonl
from harness.config.errors import ConfigError
from harness.sweep.layout import CONFIG, MANIFEST, SELECTIONS, finished_metrics, read_manifest

PAPER_ROW_NAMES = {
    "base": "SFT",
    "offline_ensemble": "Offline RM Ensemble",
    "random_rm": "Random RM Selection",
    "sequential_rm": "Sequential RM Selection",
    "correctness": "Correctness Reward",
    "oracle_rm": "Oracle RM (profile)",
}
LASER_ROW = "LASeR (Ours)"
BEST_RM_ROW, AVG_RM_ROW = "Best RM", "Avg. RM"
ROW_ORDER = ["SFT", BEST_RM_ROW, AVG_RM_ROW, "Offline RM Ensemble", "Random RM Selection", "Sequential RM Selection",
             "Correctness Reward", "Oracle RM (profile)"]


def run_folders(root: Path) -> list[dict[str, Any]]:
    """The runs a sweep manifest lists, or, without one, every folder holding a config.json."""
    if (root / MANIFEST).exists():
        return read_manifest(root)["runs"]
    runs = []
    for config_file in sorted(root.rglob(CONFIG)):
        folder = config_file.parent
        relative = folder.relative_to(root).as_posix()
        parts = relative.split("/")
        runs.append({"run_id": relative, "task": parts[0] if len(parts) == 3 else "", "method": parts[1] if len(parts) == 3 else relative,
                     "seed": None, "axes": {}, "out": str(folder)})
    return runs


def _stored_config(path: Path) -> dict[str, Any] | None:
    """A run's stored config, or None (with one warning) when it is missing or unreadable."""
    if not path.exists():
        return None
    try:
        return read_json(path)["config"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        warnings.warn(f"{path}: unreadable ({type(error).__name__}: {error}); the run is listed without its settings",
                      RuntimeWarning, stacklevel=2)
        return None


def load_runs(root: str | Path) -> pd.DataFrame:
    """One row per listed run: identity, config facts, and (when finished) its metrics."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: run store not found; point at a sweep folder (<out>/<sweep name>)")
    rows = []
    for run in run_folders(root):
        folder = Path(run["out"])
        if not folder.is_absolute() and not folder.exists():
            folder = root / run["run_id"]
        row: dict[str, Any] = {"run_id": run["run_id"], "task": run.get("task"), "label": run.get("method"),
                               "seed": run.get("seed"), "folder": str(folder), "finished": False}
        for key, value in (run.get("axes") or {}).items():
            row[f"axis:{key}"] = value
        config_file = folder / CONFIG
        config = _stored_config(config_file)
        if config is not None:
            row.update(method_name=config["method"]["name"], method_args=config["method"]["args"],
                       best_rm=config.get("best_rm", ""), policy=config["policy"]["model"], loss=config["train"]["loss"],
                       task=row["task"] or config["task"]["name"], seed=row["seed"] if row["seed"] is not None else config["seed"])
        metrics = finished_metrics(folder)  # None also for one that does not parse or match its config (warned)
        if metrics is not None:
            test = metrics["test"]
            row.update(finished=True, train_seconds=metrics.get("train_seconds"), mode=metrics.get("mode", "train"),
                       task_kind=metrics.get("task_kind", "accuracy"), selection_counts=metrics.get("selection_counts", {}))
            if "accuracy" in test:
                row["test_accuracy"] = 100.0 * test["accuracy"]
            for category, value in (test.get("accuracies") or {}).items():  # mixed-category tasks
                row[f"accuracy:{category}"] = 100.0 * value
            if "score" in test:
                row["test_score"] = 100.0 * test["score"]
            for category, value in (test.get("scores") or {}).items():
                row[f"score:{category}"] = 100.0 * value
            for name, result in (metrics.get("ood") or {}).items():
                if "accuracy" in result:  # open-ended sets have no accuracy (they are judged pairwise)
                    row[f"ood:{name}"] = 100.0 * result["accuracy"]
            for key, value in (metrics.get("selection") or {}).items():
                row[f"selection:{key}"] = value
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        raise ConfigError(f"{root}: no runs found (neither a {MANIFEST} nor run folders with a {CONFIG})")
    frame["row"] = [row_name(r) for r in frame.to_dict(orient="records")]
    return frame


def row_name(run: dict[str, Any]) -> str:
    """The paper's name for a run's method row (new methods keep their sweep label)."""
    name = run.get("method_name") or run.get("label")
    label = run.get("label") or name
    if name == "laser":
        return LASER_ROW if label == "laser" else f"LASeR [{label}]"
    if name == "single_rm":
        return f"RM: {single_rm_name(run)}"
    if name in PAPER_ROW_NAMES and label == name:
        return PAPER_ROW_NAMES[name]
    return str(label)


def single_rm_name(run: dict[str, Any]) -> str:
    args = run.get("method_args") or {}
    return args.get("rm") or run.get("best_rm") or ""


def selections(folder: str | Path, name: str = SELECTIONS) -> list[dict[str, Any]]:
    return read_jsonl(Path(folder) / name)
