"""Pairwise comparisons of a sweep's trained policies on open-ended tasks (paper Fig. 2).

For each pair (model, baseline) of method labels in the sweep's ``compare`` section, and each task, seed
and policy, the judge compares the two runs' test outputs prompt by prompt (and their outputs on
open-ended ``ood_tasks``, e.g. AlpacaEval's instructions); the annotations (alpaca_eval
format, baseline as ``output_1``) and the win rates (``harness.rewards.judges.winrates``) are written to
``<sweep>/comparisons/<task>/<model>__vs__<baseline>[@axes]/seed<k>/{annotations.json,winrates.json}``.
A comparison whose ``winrates.json`` exists is skipped, so ``harness compare`` resumes; runs that have
not finished are reported and left for later.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.common.files import read_jsonl, write_json_atomic
from harness.config.errors import ConfigError
from harness.config.schema import CompareConfig
from harness.rewards.judges.registry import build_judge, judge_label
from harness.rewards.judges.winrates import winrates, winrates_by_category
from harness.store.layout import ANNOTATIONS, METRICS, WINRATES, comparison_folder, predictions_file


def _read_records(folder: Path, task: str, main_task: str) -> list[dict[str, Any]] | None:
    """A finished run's outputs on its own task (``predictions.jsonl``) or an out-of-distribution one."""
    path = folder / predictions_file(None if task == main_task else task)
    if not (folder / METRICS).exists() or not path.exists():
        return None
    return read_jsonl(path)


def annotate(judge, judge_label: str, model: str, baseline: str, model_rows: list[dict[str, Any]],
             baseline_rows: list[dict[str, Any]], limit: int | None = None) -> list[dict[str, Any]]:
    """alpaca_eval-format annotations of ``model`` (output_2) against ``baseline`` (output_1), matched by id."""
    by_id = {row["id"]: row for row in baseline_rows}
    matched = [(row, by_id[row["id"]]) for row in model_rows if row["id"] in by_id]
    if limit is not None:
        matched = matched[:limit]
    if not matched:
        raise ValueError(f"{model} vs {baseline}: no test prompt in common")
    preferences = judge.preferences([m["instruction"] for m, _ in matched], [b["output"] for _, b in matched],
                                    [m["output"] for m, _ in matched])
    return [{"instruction": m["instruction"], "output_1": b["output"], "generator_1": baseline, "output_2": m["output"],
             "generator_2": model, "annotator": judge_label, "preference": float(p), "index": m.get("index", i), "id": m["id"],
             "category": m.get("category"), "dataset": m.get("dataset")}
            for i, ((m, b), p) in enumerate(zip(matched, preferences))]


def judge_and_store(judge, compare: CompareConfig, folder: Path, model_rows: list[dict[str, Any]],
                    baseline_rows: list[dict[str, Any]], facts: dict[str, Any]) -> dict[str, Any]:
    """Annotate one pair of runs' outputs, compute its win rates, write both files atomically."""
    model, baseline = facts["model"], facts["baseline"]
    annotations = annotate(judge, judge_label(compare.judge), model, baseline, model_rows, baseline_rows, compare.max_examples)
    on_alpaca_eval = all(a.get("dataset") == "alpaca_eval" for a in annotations)
    result = winrates(annotations, compare.length_control, on_alpaca_eval, compare.df_gamed)
    result.update(by_category=winrates_by_category(annotations), judge=judge_label(compare.judge), **facts)
    write_json_atomic(folder / ANNOTATIONS, annotations)
    write_json_atomic(folder / WINRATES, result)
    return result


def run_comparisons(sweep, specs, root: Path, force: bool = False, progress=print) -> dict[str, int]:
    """Judge every configured pair; returns counts of done / skipped / waiting comparisons."""
    compare: CompareConfig | None = sweep.compare
    if compare is None or not compare.pairs:
        return {"done": 0, "skipped": 0, "waiting": 0}
    labels = {s.method_label for s in specs}
    for pair in compare.pairs:
        if len(pair) != 2 or any(label not in labels for label in pair):
            raise ConfigError(f"compare.pairs: {pair} must name two method labels of the sweep; labels: {sorted(labels)}")
    def key(spec, label: str) -> tuple:
        return spec.task, label, spec.seed, json.dumps(spec.axes, sort_keys=True, default=str)

    index = {key(s, s.method_label): s for s in specs}
    jobs = [(spec, baseline, target) for spec in sorted(specs, key=lambda s: s.run_id)
            for model, baseline in compare.pairs if spec.method_label == model
            for target in [spec.task] + [ood.name for ood in spec.config.ood_tasks]]
    judge, counts = None, {"done": 0, "skipped": 0, "waiting": 0}
    for spec, baseline, target in jobs:
        model, seed, other = spec.method_label, spec.seed, index.get(key(spec, baseline))
        folder = comparison_folder(root, target, model, baseline, spec.axes, seed)
        if (folder / WINRATES).exists() and not force:
            counts["skipped"] += 1
            continue
        model_rows = _read_records(spec.folder, target, spec.task)
        baseline_rows = _read_records(other.folder, target, spec.task) if other else None
        if model_rows is None or baseline_rows is None:
            counts["waiting"] += 1
            progress(f"compare {target} {model} vs {baseline} seed{seed}: waiting for both runs to finish")
            continue
        if "output" not in model_rows[0]:
            continue  # not an open-ended task: nothing to judge
        judge = judge or build_judge(compare.judge)
        progress(f"compare {target} {model} vs {baseline} seed{seed}: judging {len(model_rows)} prompts with {judge_label(compare.judge)}")
        policy = spec.axes.get("policy") or spec.config.policy.model.rstrip("/").split("/")[-1]
        result = judge_and_store(judge, compare, folder, model_rows, baseline_rows,
                                 dict(task=target, trained_on=spec.task, model=model, baseline=baseline, seed=seed,
                                      axes=spec.axes, policy=policy))
        lc = f", length-controlled {result['length_controlled_winrate']:.2f}% ({result['lc_variant']})" if result["lc_variant"] else ""
        progress(f"  win rate {result['win_rate']:.2f}%{lc}")
        counts["done"] += 1
    return counts
