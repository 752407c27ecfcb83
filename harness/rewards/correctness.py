"""``correctness``: 1.0 when the answer extracted from the response equals the gold answer, else 0.0 (graded
tasks: the task's F1 / ROUGE-L); the answer check is the task's own ``gold_reward``."""

from __future__ import annotations

from typing import Any, Callable

from harness.rewards.base import RewardModel


class CorrectnessRM(RewardModel):
    """Gold-answer reward: ``references`` are the task's Examples (answer extraction is the task's)."""

    needs_references = True
    description = "the task's gold score: 1 if the extracted answer equals the gold answer, else 0 (graded tasks: F1 / ROUGE-L)"

    @classmethod
    def from_config(cls, config, context):
        return cls(context.name, context.gold_reward)

    def __init__(self, name: str, gold_reward: Callable[[str, Any], float]):
        self.name, self.gold_reward = name, gold_reward

    def score(self, prompts, responses, references=None):
        if references is None or len(references) != len(responses):
            raise ValueError(f"reward model {self.name!r} needs one gold reference per response")
        return [float(self.gold_reward(r, ref)) for r, ref in zip(responses, references)]
