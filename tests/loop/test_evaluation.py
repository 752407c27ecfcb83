"""Majority-vote evaluation against a hand-computed case: a fake policy returns known samples (a clear majority, a
tie the first-seen answer wins, a prompt where no sample has an answer), and the vote's accuracy and the samples' own
accuracy are the numbers worked out by hand; greedy results stay as they were."""

from __future__ import annotations

import pytest

from harness.config.schema import EvalConfig
from harness.loop.evaluation import evaluate
from harness.models.policy import Sample
from harness.tasks.base import Example
from harness.tasks.registry import get_task

# question -> (gold, category, the policy's four samples); GSM8K's extraction takes the number in each
CASES = {
    "q1": ("4", "a", ["Final answer: 4", "Final answer: 4", "Final answer: 5", "no idea"]),  # vote 4: right; 2/4 right
    "q2": ("5", "a", ["Final answer: 3", "Final answer: 5", "Final answer: 5", "Final answer: 3"]),  # tie 3:5, 3 seen
    #                                                                          first wins: wrong; 2/4 right
    "q3": ("7", "b", ["no idea", "none", "cannot say", "?"]),               # no answer at all: wrong; 0/4 right
    "q4": ("9", "b", ["Final answer: 9", "Final answer: 9", "Final answer: 9", "Final answer: 2"]),  # right; 3/4
}


class FixedPolicy:
    """Returns each prompt's fixed samples: all of them when sampling, the first one when greedy."""

    def __init__(self, examples: list[Example], prompt):
        self.samples = {prompt(e): CASES[e.question][2] for e in examples}
        self.prompts: list[str] = []
        self.calls: list[dict] = []

    def encode_prompts(self, prompts: list[str]) -> list[list[int]]:
        self.prompts += prompts
        return [[len(self.prompts) - len(prompts) + i] for i in range(len(prompts))]

    def generate(self, prompt_ids, n, do_sample=False, **settings):
        self.calls.append({"n": n, "do_sample": do_sample, **settings})
        texts = [self.samples[self.prompts[ids[0]]] for ids in prompt_ids]
        assert n == (len(texts[0]) if do_sample else 1)
        return [[Sample([], text) for text in group[:n]] for group in texts]


def _setup():
    task = get_task("gsm8k")
    examples = [Example(q, q, gold, category=category) for q, (gold, category, _) in CASES.items()]
    return task, examples, FixedPolicy(examples, task.prompt)


def test_majority_vote_and_per_sample_accuracy_match_the_hand_computation():
    task, examples, policy = _setup()
    result = evaluate(policy, task, examples, EvalConfig(decoding="majority", num_samples=4, temperature=0.8, batch_size=3), seed=10)
    records = {r["id"]: r for r in result["records"]}
    assert [records[q]["prediction"] for q in CASES] == ["4", "3", None, "9"]
    assert [records[q]["correct"] for q in CASES] == [True, False, False, True]
    assert [records[q]["sample_accuracy"] for q in CASES] == [0.5, 0.5, 0.0, 0.75]
    assert result["accuracy"] == 0.5                                  # 2 of 4 votes right
    assert result["sample_accuracy"] == pytest.approx(1.75 / 4)        # (0.5 + 0.5 + 0 + 0.75) / 4
    assert result["accuracies"] == {"a": 0.5, "b": 0.5}
    assert result["sample_accuracies"] == pytest.approx({"a": 0.5, "b": 0.375})
    # sampled at the configured temperature, seeded per chunk of batch_size prompts
    assert [(c["n"], c["do_sample"], c["temperature"], c["seed"]) for c in policy.calls] == [(4, True, 0.8, 10), (4, True, 0.8, 13)]


def test_greedy_results_carry_no_sample_accuracy():
    task, examples, policy = _setup()
    result = evaluate(policy, task, examples, EvalConfig(decoding="greedy", batch_size=3), seed=10)
    assert set(result) == {"num_examples", "records", "accuracy", "accuracies"}
    assert [r["prediction"] for r in result["records"]] == ["4", "3", None, "9"]  # each prompt's first sample
    assert result["accuracy"] == 0.5 and all("sample_accuracy" not in r for r in result["records"])
