"""Per-prompt routing: the router's bandit bookkeeping (prior from the profile, per-prompt MAB rewards, resume)
against hand-computed values, the loop's per-prompt scoring and losses, and the records' routed decisions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.common.selection_log import all_decisions, annotate_selections, best_share, decisions, selection_metrics
from harness.loop import training_loop
from harness.loop.run_config import build_run_config
from harness.loop.training_loop import per_prompt
from harness.run.execute import execute_run
from harness.selection.method import BatchContext, Declaration, Method, MethodContext, RewardChoice, StepFeedback
from harness.selection.registry import METHODS, build_method

from conftest import tiny_run_config

E1, E2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
AUC = {"c1": {"rm_a": 0.9, "rm_b": 0.2}, "c2": {"rm_a": 0.1, "rm_b": 0.8}}
PROFILE = {"reward_models": ["rm_a", "rm_b"], "best_rm": {"c1": "rm_a", "c2": "rm_b"},
           "categories": {c: {"reward_models": {rm: {"auc": auc} for rm, auc in aucs.items()}} for c, aucs in AUC.items()}}
GREEDY = {"bandit": "linucb", "alpha": 0.0, "b_init_std": 0.0, "normalize_context": False}


def _context(step: int = 0) -> BatchContext:
    return BatchContext(iteration=1, step=step, batch_index=step, num_steps=4, prompts=["p1", "p2"],
                        embedding=(E1 + E2) / 2, prompt_embeddings=np.stack([E1, E2]), categories=["c1", "c2"])


def _router(prior: str = "profile", profile=PROFILE, **args):
    return build_method("prompt_router", {**GREEDY, "prior": prior, "prior_weight": 1, **args},
                        MethodContext(["rm_a", "rm_b"], profile=profile))


def _labels(choices: list[RewardChoice]) -> list[str]:
    return [c.label for c in choices]


def test_the_profile_prior_routes_each_category_to_its_competent_rm():
    router = _router()
    # c1 primes at e1: theta_a = (0.9/2, 0), theta_b = (0.2/2, 0) -> rm_a; then c2 primes at e2:
    # A = diag(2, 2) for both, b_a = (0.9, 0.1), b_b = (0.2, 0.8) -> on e2: 0.05 vs 0.4 -> rm_b
    assert _labels(router.route(_context())) == ["rm_a", "rm_b"]
    assert router.bandit.scores(E1) == pytest.approx([0.45, 0.1]) and router.bandit.scores(E2) == pytest.approx([0.05, 0.4])
    assert router.primed == ["c1", "c2"]
    router.route(_context(1))  # a category is primed once
    assert router.bandit.scores(E2) == pytest.approx([0.05, 0.4])
    assert _labels(_router(prior="none").route(_context())) == ["rm_a", "rm_a"]  # all scores 0: ties to the first
    assert router.declared.needs_profile and not _router(prior="none").declared.needs_profile


def test_each_prompt_is_rewarded_by_its_own_loss_and_a_prompt_without_pairs_teaches_nothing():
    router = _router()
    context = _context()
    choices = router.route(context)
    router.route_feedback(context, choices, StepFeedback(0.3, 2, 1, prompt_losses=[0.3, None], prompt_pairs=[2, 0]))
    assert router.route_records() == [{"mab_reward": 0.5}, {"mab_reward": None}]  # no history yet: 0.5
    # arm a at e1 once more with reward 0.5: A = diag(3, 2), b = (1.4, 0.1)
    assert router.bandit.scores(E1) == pytest.approx([1.4 / 3, 0.1]) and router.bandit.scores(E2) == pytest.approx([0.05, 0.4])
    router.route_feedback(context, choices, StepFeedback(0.3, 3, 0, prompt_losses=[0.5, 0.1], prompt_pairs=[2, 1]))
    # raw -0.5 is below the history [-0.3]'s quantiles: 0; raw -0.1 is above [-0.3, -0.5]'s 80th: 1
    assert router.route_records() == [{"mab_reward": 0.0}, {"mab_reward": 1.0}]
    assert router.scaler.history == [-0.3, -0.5, -0.1]
    state = json.loads(json.dumps(router.state_dict(), default=lambda v: v.tolist()))
    restored = _router()
    restored.load_state_dict(state)
    assert restored.primed == ["c1", "c2"]
    assert restored.bandit.scores(E1) == pytest.approx(router.bandit.scores(E1))
    assert _labels(restored.route(_context(2))) == _labels(router.route(_context(2)))
    with pytest.raises(TypeError, match="per prompt"):
        router.select(context)


def test_per_prompt_losses_are_the_means_of_each_prompts_pairs():
    losses, pairs = per_prompt(3, [0, 2, 0, 2, 2], [1.0, 2.0, 3.0, 4.0, 6.0])
    assert losses == [2.0, None, 4.0] and pairs == [2, 0, 3]
    assert per_prompt(2, [1, 1], []) == ([None, None], [0, 2])  # pairs made but no step taken


def test_routed_steps_are_decisions_per_prompt_in_counts_and_regret():
    step = {"reward_model": "rm_a", "category": None, "step": 0,
            "routes": [{"prompt": 0, "reward_model": "rm_a", "category": "c1"},
                       {"prompt": 1, "reward_model": "rm_a", "category": "c2"},
                       {"prompt": 2, "reward_model": "rm_b", "category": "c2"}]}
    batch_step = {"reward_model": "rm_b", "category": "c1", "step": 1}
    assert [d["reward_model"] for d in all_decisions([step, batch_step])] == ["rm_a", "rm_a", "rm_b", "rm_b"]
    assert decisions(batch_step) == [batch_step]
    annotated = annotate_selections([step, batch_step], PROFILE)
    routes = annotated[0]["routes"]
    assert [r["competence_gap"] for r in routes] == pytest.approx([0.0, 0.7, 0.0])
    assert annotated[0]["competence_gap"] == pytest.approx(0.7 / 3) and annotated[1]["competence_gap"] == pytest.approx(0.7)
    assert best_share(annotated[0]) == pytest.approx(2 / 3) and best_share(annotated[1]) == 0.0
    metrics = selection_metrics(annotated)
    assert metrics["selection_accuracy"] == pytest.approx(1 / 3) and metrics["regret"] == pytest.approx(0.7 / 3 + 0.7)


class AlternateRouter(Method):
    """Prompt i of every batch to rm_a when i is even, else rm_b (a deterministic router for the loop test)."""

    description = "alternating per-prompt routing (test)"
    declared = Declaration(routes_prompts=True)

    def route(self, context: BatchContext) -> list[RewardChoice]:
        return [RewardChoice((self.reward_models[i % 2],)) for i in range(len(context.prompts))]

    def route_feedback(self, context, choices, feedback):
        self.seen = feedback


@pytest.fixture
def alternate(monkeypatch):
    monkeypatch.setattr(METHODS, "_entries", {**METHODS._entries, "alternate_router": "test_router:AlternateRouter"})
    monkeypatch.setattr(METHODS, "_loaded", dict(METHODS._loaded))


def test_the_loop_scores_each_prompt_with_its_rm_and_trains_the_batch_as_one_step(tiny_models, data_dir, tmp_path,
                                                                                 monkeypatch, alternate):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    scored, steps = [], []
    original_score, original_step = training_loop.score_table, training_loop.PreferenceTrainer.step

    def score_table(choice, pool, prompts, responses, references):
        scored.append((choice.reward_models, list(dict.fromkeys(prompts))))
        return original_score(choice, pool, prompts, responses, references)

    def step(self, items):
        result = original_step(self, items)
        steps.append((items, result))
        return result

    monkeypatch.setattr(training_loop, "score_table", score_table)
    monkeypatch.setattr(training_loop.PreferenceTrainer, "step", step)
    data = tiny_run_config(tiny_models, data_dir, tmp_path, method={"name": "alternate_router", "args": {}})
    data["train"]["max_steps_per_iteration"] = 2
    metrics = execute_run(build_run_config(data), progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "selections.jsonl").read_text().splitlines()]
    assert len(records) == 2 and metrics["selection_counts"] == {"rm_a": 4, "rm_b": 4}
    for record in records:
        routes = record["routes"]
        assert [r["reward_model"] for r in routes] == ["rm_a", "rm_b", "rm_a", "rm_b"] and record["reward_model"] == "rm_a"
        assert sum(r["num_pairs"] for r in routes) == record["num_pairs"]
    # per step, rm_a scored prompts 0 and 2 and rm_b prompts 1 and 3: two scoring calls, disjoint prompts
    for (rms_a, prompts_a), (rms_b, prompts_b) in zip(scored[0::2], scored[1::2]):
        assert (rms_a, rms_b) == (("rm_a",), ("rm_b",)) and len(prompts_a) == len(prompts_b) == 2
        assert not set(prompts_a) & set(prompts_b)
    assert len(steps) == 2  # one optimisation step per batch, its pairs from prompts of both RMs
    for record, (items, result) in zip(records, steps):
        assert record["loss"] == pytest.approx(result.mean)
        by_prompt: dict[tuple, list[float]] = {}
        for item, loss in zip(items, result.per_pair):
            by_prompt.setdefault(tuple(item.prompt), []).append(loss)
        trained = sorted(np.mean(v) for v in by_prompt.values())
        assert sorted(r["loss"] for r in record["routes"] if r["loss"] is not None) == pytest.approx(trained)
