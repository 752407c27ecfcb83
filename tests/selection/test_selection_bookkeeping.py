"""Oracle and regret bookkeeping against a profile, and the mixed task's one-family batches."""

from __future__ import annotations

import numpy as np
import pytest

from harness.common.selection_log import annotate_selections, selection_metrics
from harness.config.schema import TaskConfig
from harness.loop.training_loop import category_batches
from harness.selection.method import BatchContext, MethodContext
from harness.selection.registry import build_method
from harness.world.tasks import SynthMix

AUC = {"count": {"rm_a": 0.9, "rm_b": 0.4}, "facts": {"rm_a": 0.3, "rm_b": 0.8}, "all": {"rm_a": 0.6, "rm_b": 0.6}}
PROFILE = {"reward_models": ["rm_a", "rm_b"], "best_rm": {"count": "rm_a", "facts": "rm_b", "all": "rm_a"},
           "categories": {c: {"reward_models": {rm: {"auc": auc} for rm, auc in aucs.items()}} for c, aucs in AUC.items()}}


def _context(category: str | None) -> BatchContext:
    return BatchContext(iteration=1, step=0, batch_index=0, num_steps=1, prompts=["q"], category=category)


def test_oracle_picks_each_categorys_most_competent_rm():
    oracle = build_method("oracle_rm", {}, MethodContext(["rm_a", "rm_b"], profile=PROFILE))
    assert oracle.select(_context("count")).reward_models == ("rm_a",)
    assert oracle.select(_context("facts")).reward_models == ("rm_b",)
    assert oracle.select(_context(None)).reward_models == ("rm_a",)  # no category: the profile's overall best
    with pytest.raises(ValueError, match="profile"):
        build_method("oracle_rm", {}, MethodContext(["rm_a", "rm_b"])).select(_context("count"))


def test_regret_is_the_summed_auc_gap_of_the_choices():
    steps = [{"reward_model": "rm_a", "category": "count"},   # best: gap 0
             {"reward_model": "rm_a", "category": "facts"},   # best rm_b: gap 0.8 - 0.3
             {"reward_model": "rm_b", "category": "facts"},   # best: gap 0
             {"reward_model": "rm_b", "category": "count"},   # best rm_a: gap 0.9 - 0.4
             {"reward_model": "mean(rm_a,rm_b)", "category": "count"}]  # an ensemble: not rated
    annotated = annotate_selections(steps, PROFILE)
    assert [s["best_rm"] for s in annotated] == ["rm_a", "rm_b", "rm_b", "rm_a", "rm_a"]
    assert [s["competence_gap"] for s in annotated][:4] == pytest.approx([0.0, 0.5, 0.0, 0.5])
    assert annotated[4]["competence_gap"] is None
    metrics = selection_metrics(annotated)
    assert metrics["selection_accuracy"] == 0.5 and metrics["regret"] == pytest.approx(1.0)
    assert metrics["mean_regret"] == pytest.approx(0.25) and metrics["scored_steps"] == 4 and metrics["steps"] == 5
    assert annotate_selections(steps, None) == steps and selection_metrics(steps) == {}


def test_the_mixed_task_batches_one_family_at_a_time_in_a_seeded_order():
    task = SynthMix()
    splits = task.splits(TaskConfig(name="synth_mix", split_sizes=[30, 5, 10]), seed=0)
    assert {e.category for e in splits.test} == {"count", "facts", "choice"} and len(splits.train) == 90
    orders = []
    for seed in (0, 1):
        batches = category_batches(splits.train, 10, np.random.default_rng(seed), task.groups_by_category(TaskConfig()))
        assert all(len({e.category for e in batch}) == 1 for batch in batches) and len(batches) == 9
        orders.append([batch[0].category for batch in batches])
    assert orders[0] != orders[1]  # the families' order is shuffled per seed
