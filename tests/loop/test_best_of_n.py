"""Best-of-n mode (paper sec. 3.3): the selected RM's argmax is what gets scored; the bandit learns on the
train split from the NLL of the picked responses and is frozen on the test split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.config.parse import from_dict
from harness.config.schema import RewardModelConfig
from harness.loop.best_of_n import best_indices
from harness.loop.run_config import build_run_config
from harness.rewards.pool import build_reward_models
from harness.run.execute import execute_run
from harness.tasks.registry import get_task

from conftest import OPEN_TASK_DATA, tiny_run_config


def test_best_indices_is_the_row_argmax_first_on_ties():
    scores = np.array([[0.1, 0.9, 0.9], [-1.0, -2.0, -0.5]])
    assert best_indices(scores).tolist() == [1, 2]


def _config(tiny_models, data_dir, tmp_path, method, args=None, **train):
    config = tiny_run_config(tiny_models, data_dir, tmp_path / method, mode="best_of_n",
                             task={"name": "longbench", "path": str(data_dir / OPEN_TASK_DATA["longbench"]),
                                   "split_sizes": [2, 1, 2]},          # per category: 8 train, 4 dev, 8 test prompts
                             method={"name": method, "args": args or {}})
    config["policy"].update(max_prompt_tokens=96, truncation="middle")
    for rm in config["reward_models"]:
        rm["max_prompt_tokens"] = 96
    config["train"].update(batch_size=2, **train)
    config["eval"]["max_dev_examples"] = 2
    return build_run_config(config)


def _records(folder, name="predictions.jsonl"):
    return [json.loads(line) for line in (folder / name).read_text().splitlines()]


def test_the_picked_response_is_the_argmax_of_the_selected_rm(tiny_models, data_dir, tmp_path):
    config = _config(tiny_models, data_dir, tmp_path, "single_rm", {"rm": "rm_a"})
    metrics = execute_run(config, progress=False)
    records = _records(tmp_path / "single_rm" / "run")
    assert metrics["test"]["decoding"] == "best_of_3" and len(records) == 8
    assert set(metrics["test"]["scores"]) == {"single_doc_qa", "multi_doc_qa", "summarization", "few_shot"}
    task = get_task("longbench")
    examples = {e.id: e for e in task.load(config.task)}
    rm = build_reward_models([from_dict(RewardModelConfig, {"name": "check", "kind": "loglik", "model": tiny_models["rm_a"], "max_prompt_tokens": 96})],
                             task.gold_reward, seed=0)["check"]
    for record in records:
        assert record["reward_model"] == "rm_a"
        assert record["picked"] == int(np.argmax(record["candidate_rewards"]))
        example = examples[record["id"]]
        # an independent re-scoring of the picked response gives the best candidate's reward
        rescored = rm.score([task.prompt(example)], [record["response"]])[0]
        assert rescored == pytest.approx(max(record["candidate_rewards"]), abs=1e-4)
        assert record["score"] == pytest.approx(task.score(record["response"], example))
        assert record["score"] == pytest.approx(record["candidate_scores"][record["picked"]])
    per_category = {c: np.mean([r["score"] for r in records if r["category"] == c]) for c in metrics["test"]["scores"]}
    assert metrics["test"]["scores"] == pytest.approx(per_category)


def test_laser_learns_from_nll_on_train_and_is_frozen_on_test(tiny_models, data_dir, tmp_path):
    config = _config(tiny_models, data_dir, tmp_path, "laser")
    metrics = execute_run(config, progress=False)
    folder = tmp_path / "laser" / "run"
    steps = _records(folder, "selections.jsonl")
    assert len(steps) == 4 and all(s["split"] == "train" and s["loss"] > 0 for s in steps)  # NLL of the picks
    assert all(len({s["category"]}) == 1 and s["category"] for s in steps)
    assert [s["mab_reward"] for s in steps][1:] != [None] * 3
    test_steps = _records(folder, "test_selections.jsonl")
    assert {s["category"] for s in test_steps} == {"single_doc_qa", "multi_doc_qa", "summarization", "few_shot"}
    assert sum(metrics["test_selection_counts"].values()) == len(test_steps) == 4
    iterations = _records(folder, "iterations.jsonl")
    assert iterations[0]["dev_accuracy"] is not None and iterations[0]["train_best_of_n_score"] is not None
    assert metrics["mode"] == "best_of_n" and metrics["steps"] == 4


def test_laser_in_best_of_n_can_learn_from_the_reward_spread(tiny_models, data_dir, tmp_path):
    from harness.selection.bandits.scaling import QuantileRewardScaler

    execute_run(_config(tiny_models, data_dir, tmp_path, "laser", {"mab_reward": "reward_spread"}), progress=False)
    steps = _records(tmp_path / "laser" / "run", "selections.jsonl")
    assert len(steps) == 4 and all(0.0 <= s["reward_spread"] <= 1.0 for s in steps)
    scaler = QuantileRewardScaler(0.2, 0.8)  # the raw spreads, scaled in turn, are what the bandit learnt
    assert [s["mab_reward"] for s in steps] == pytest.approx([scaler.scale(s["reward_spread"]) for s in steps])


def test_frozen_bandit_state_does_not_change_during_test(tiny_models, data_dir, tmp_path):
    from harness.loop.best_of_n import BestOfNLoop
    from harness.models.policy import Policy
    from harness.selection.method import MethodContext
    from harness.selection.registry import build_method

    config = _config(tiny_models, data_dir, tmp_path, "laser")
    task = get_task("longbench")
    splits = task.splits(config.task, 0)
    pool = build_reward_models(config.reward_models, task.gold_reward, 0)
    method = build_method("laser", {}, MethodContext(list(pool)[:2]))
    loop = BestOfNLoop(config, Policy(config.policy), task, splits, {k: pool[k] for k in ("rm_a", "rm_b")}, method)
    loop.run_iteration(1)
    before = json.dumps(method.state_dict(), default=str, sort_keys=True)
    loop.evaluate_test(splits.test)
    assert json.dumps(method.state_dict(), default=str, sort_keys=True) == before


def test_base_model_row_is_greedy(tiny_models, data_dir, tmp_path):
    metrics = execute_run(_config(tiny_models, data_dir, tmp_path, "base"), progress=False)
    assert metrics["test"]["decoding"] == "greedy" and metrics["steps"] == 0


def test_best_of_n_needs_gold_references(tiny_models, data_dir, tmp_path):
    from harness.config.errors import ConfigError

    config = tiny_run_config(tiny_models, data_dir, tmp_path, mode="best_of_n",
                             task={"name": "wildchat", "path": str(data_dir / OPEN_TASK_DATA["wildchat"])})
    with pytest.raises(ConfigError, match="best_of_n needs a task with gold references"):
        build_run_config(config)


@pytest.mark.slow
def test_resumed_best_of_n_run_equals_an_uninterrupted_one(tiny_models, data_dir, tmp_path):
    whole = execute_run(_config(tiny_models, data_dir, tmp_path / "whole", "laser", iterations=2), progress=False)
    first = _config(tiny_models, data_dir, tmp_path / "split", "laser", iterations=1)
    execute_run(first, progress=False)                      # stops after iteration 1 (its checkpoint stays)
    second = _config(tiny_models, data_dir, tmp_path / "split", "laser", iterations=2)
    resumed = execute_run(second, progress=False)           # resumes at iteration 2
    assert resumed["test"] == whole["test"] and resumed["test_selection_counts"] == whole["test_selection_counts"]
    steps = lambda root: [(s["reward_model"], round(s["loss"], 6)) for s in _records(root / "laser" / "run", "selections.jsonl")]  # noqa: E731
    assert steps(tmp_path / "split") == steps(tmp_path / "whole")


def test_majority_vote_is_refused_without_extracted_answers(tiny_models, data_dir, tmp_path):
    from harness.config.errors import ConfigError

    config = tiny_run_config(tiny_models, data_dir, tmp_path, mode="best_of_n",
                             task={"name": "longbench", "path": str(data_dir / OPEN_TASK_DATA["longbench"])})
    config["eval"]["decoding"] = "majority"
    with pytest.raises(ConfigError, match="eval.decoding: a majority vote needs extracted answers"):
        build_run_config(config)
