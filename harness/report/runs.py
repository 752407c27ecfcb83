"""A run store (``harness.store``) as the report's flat table of runs, one row each; JSON only, no torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from harness.common.files import read_json, read_jsonl
from harness.config.errors import ConfigError, unknown_name_message
from harness.config.parse import from_dict
from harness.config.schema import ReportSettings
from harness.report.methods import run_row
from harness.report.provenance import describe_environment
from harness.store.layout import CONFIG, LM_EVAL, MANIFEST, SELECTIONS
from harness.store.manifest import read_manifest
from harness.store.run_folder import finished_metrics, stored_config
from harness.store.union import union_of_stores


def store_roots(stores: str | Path | Sequence[str | Path]) -> list[Path]:
    """One store or several, as a list of existing folders (a missing one is a ConfigError naming it)."""
    roots = [Path(stores)] if isinstance(stores, (str, Path)) else [Path(store) for store in stores]
    if not roots:
        raise ConfigError("report: give a sweep folder (<out>/<sweep name>)")
    for root in roots:
        if not root.is_dir():
            raise ConfigError(f"{root}: run store not found; point at a sweep folder (<out>/<sweep name>)")
    return roots


def load_runs(stores: str | Path | Sequence[str | Path], targets: list[str] | None = None) -> pd.DataFrame:
    """One row per listed run of one store or the union of several (``harness.store.union``): identity, config
    facts, its row in the tables (``harness.report.methods``), whether it is a target of the significance tests
    (``targets``, default: the first store's ``report.target``), and (when finished) its metrics."""
    roots = store_roots(stores)
    rows = []
    for listed in union_of_stores(roots):
        run, folder = listed.entry, listed.folder
        row: dict[str, Any] = {"run_id": run["run_id"], "task": run.get("task"), "label": run.get("method"),
                               "seed": run.get("seed"), "folder": str(folder), "finished": False}
        for key, value in (run.get("axes") or {}).items():
            row[f"axis:{key}"] = value
        stored = stored_config(folder)
        if stored is not None:
            config = stored["config"]
            row["environment"] = describe_environment(stored.get("environment"))
            row.update(method_name=config["method"]["name"], method_args=config["method"]["args"], reporting=stored.get("reporting"),
                       best_rm=config.get("best_rm", ""), policy=config["policy"]["model"], loss=config["train"]["loss"],
                       start=config["train"].get("start"),   # None: a run from before train.start (the base model)
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
            if (folder / LM_EVAL).exists():  # python -m harness lm-eval
                for name, result in read_json(folder / LM_EVAL)["tasks"].items():
                    if result["metrics"].get("acc") is not None:
                        row[f"lm_eval:{name}"] = 100.0 * result["metrics"]["acc"]
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        raise ConfigError(f"{', '.join(map(str, roots))}: no runs found (neither a {MANIFEST} nor run folders with a {CONFIG})")
    rows = [run_row(_text(r.get("method_name")) or r["label"], r["label"], r.get("reporting")) for r in frame.to_dict(orient="records")]
    for column in ("row", "rank", "short", "selects", "role", "fixed_rm", "start_suffix"):
        frame[column] = [getattr(row, column) for row in rows]
    if targets is not None:
        return mark_targets(frame, targets, key="--target")
    return mark_targets(frame, report_settings(roots).targets())


def _text(value: Any) -> str:
    """A string cell of the runs' frame ('' where the run has no config, which pandas fills with NaN)."""
    return value if isinstance(value, str) else ""


def report_settings(stores: str | Path | Sequence[str | Path]) -> ReportSettings:
    """The sweep's ``report:`` section from the manifest of the first store that has one (the defaults without)."""
    for root in store_roots(stores):
        manifest = root / MANIFEST
        if manifest.exists():
            section = (read_manifest(root).get("sweep") or {}).get("report") or {}
            return from_dict(ReportSettings, section, prefix=f"{manifest}: sweep.report")
    return ReportSettings()


def mark_targets(frame: pd.DataFrame, targets: list[str], key: str = "") -> pd.DataFrame:
    """``target``: the run's label or method name is one of ``targets`` (the significance tests' H1 side). With a
    ``key`` (the option they came from), a target that names no run of the store is an error."""
    names = frame["method_name"] if "method_name" in frame else frame["label"]
    unknown = [t for t in targets if not (frame["label"] == t).any() and not (names == t).any()]
    if key and unknown:
        raise ConfigError(f"{key}: {unknown_name_message('method label', unknown[0], frame['label'].dropna().unique())}")
    return frame.assign(target=frame["label"].isin(targets) | names.isin(targets))


def selections(folder: str | Path, name: str = SELECTIONS) -> list[dict[str, Any]]:
    return read_jsonl(Path(folder) / name)
