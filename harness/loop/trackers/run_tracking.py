"""What a run streams to its trackers, named as TRL and the trackers' users expect:

- per training step (the global step): ``train/loss``, ``train/pairs``, ``train/skipped_prompts``,
  ``train/sample_accuracy``, ``train/mean_score``; ``bandit/mab_reward`` (a method that records one; a router's:
  the mean over its prompts); ``rewards/<rm>/mean`` and ``rewards/<rm>/std`` of each RM's raw scores of the
  step's responses; ``selection/<rm>``, the share of the step's prompts that RM labelled (1 or 0 for a per-batch
  method); with a profile, ``selection/accuracy`` (running) and ``selection/regret`` (cumulative), as the run's
  metrics define them (``harness.common.selection_log``);
- per iteration (at its last step): ``iteration/train_loss``, ``iteration/pairs``, ``iteration/dev_accuracy``;
- per run: the resolved config as flat hyper-parameters (``train.learning_rate``, ``method.args.alpha``, ...)
  and the final metrics (``test/accuracy``, ``test/<category>``, ``selection/accuracy``, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.common.selection_log import all_decisions, annotate_selections, best_share
from harness.config.parse import to_dict
from harness.config.schema import RunConfig
from harness.loop.trackers.base import HyperParameters, Tracker, TrackerContext
from harness.loop.trackers.registry import TRACKERS

STEP_KEYS = {"loss": "train/loss", "num_pairs": "train/pairs", "skipped_prompts": "train/skipped_prompts",
             "sample_accuracy": "train/sample_accuracy", "mean_score": "train/mean_score"}


def hyperparameters(config: RunConfig) -> HyperParameters:
    """The config flattened to dotted keys; lists, mappings and None as their text (trackers take scalars)."""
    flat: HyperParameters = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, (bool, int, float, str)):
            flat[prefix] = value
        else:
            flat[prefix] = str(value)

    walk("", to_dict(config))
    return flat


def final_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    test = metrics.get("test") or {}
    final = {f"test/{key}": float(test[key]) for key in ("accuracy", "score") if test.get(key) is not None}
    for group in ("accuracies", "scores"):
        final.update({f"test/{category}": float(value) for category, value in (test.get(group) or {}).items()})
    if metrics.get("final_dev_accuracy") is not None:
        final["dev/accuracy"] = float(metrics["final_dev_accuracy"])
    for key, value in (metrics.get("selection") or {}).items():
        final[f"selection/{key}"] = float(value)
    final["train_seconds"] = float(metrics.get("train_seconds") or 0.0)
    return final


class RunTracking:
    """The run's trackers, fed by the training loop (``step``, ``iteration``) and by the run (``finish``)."""

    def __init__(self, trackers: list[Tracker], reward_models: list[str], profile: dict[str, Any] | None):
        self.trackers, self.reward_models, self.profile = trackers, reward_models, profile
        self.rated = self.hits = 0
        self.regret = 0.0

    @classmethod
    def open(cls, config: RunConfig, folder: Path, name: str, profile: dict[str, Any] | None) -> RunTracking | None:
        """The config's trackers, started with its hyper-parameters (None when ``log`` is empty)."""
        if not config.log:
            return None
        tracking = cls([], [rm.name for rm in config.reward_models], profile)
        parameters = hyperparameters(config)
        try:
            for tracker_name in config.log:
                tracker = TRACKERS.build(tracker_name, context=TrackerContext(folder, name))
                tracking.trackers.append(tracker)
                tracker.start(parameters)
        except BaseException:
            tracking.close()
            raise
        return tracking

    def resume(self, selections: list[dict[str, Any]]) -> None:
        """Carry the running selection accuracy and regret over the steps a resumed run had already made."""
        for record in selections:
            self.step_values(record, {})

    def step_values(self, record: dict[str, Any], score_stats: dict[str, tuple[float, float]]) -> dict[str, float]:
        values = {name: float(record[key]) for key, name in STEP_KEYS.items() if record.get(key) is not None}
        rewards = [d["mab_reward"] for d in all_decisions([record]) if d.get("mab_reward") is not None]
        if rewards:
            values["bandit/mab_reward"] = float(np.mean(rewards))
        for rm, (mean, std) in score_stats.items():
            values[f"rewards/{rm}/mean"], values[f"rewards/{rm}/std"] = mean, std
        chosen = [d["reward_model"] for d in all_decisions([record])]
        for rm in dict.fromkeys(self.reward_models + chosen):
            values[f"selection/{rm}"] = chosen.count(rm) / len(chosen)
        if self.profile:
            annotated = annotate_selections([record], self.profile)[0]
            if annotated.get("competence_gap") is not None:
                self.rated += 1
                self.hits += best_share(annotated)
                self.regret += annotated["competence_gap"]
                values["selection/accuracy"] = self.hits / self.rated
                values["selection/regret"] = self.regret
        return values

    def step(self, record: dict[str, Any], score_stats: dict[str, tuple[float, float]]) -> None:
        values = self.step_values(record, score_stats)
        for tracker in self.trackers:
            tracker.log(values, record["step"])

    def iteration(self, row: dict[str, Any], step: int) -> None:
        values = {f"iteration/{key}": float(row[key]) for key in ("train_loss", "pairs", "dev_accuracy")
                  if row.get(key) is not None}
        for tracker in self.trackers:
            tracker.log(values, step)

    def finish(self, metrics: dict[str, Any]) -> None:
        final = final_metrics(metrics)
        for tracker in self.trackers:
            tracker.finish(final)
        self.trackers = []

    def close(self) -> None:
        for tracker in self.trackers:
            tracker.close()
        self.trackers = []
