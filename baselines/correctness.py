"""Correctness reward (review discussion): 1 when the extracted final answer equals the gold answer, else 0.

Uses the built-in ``correctness`` reward model, which needs no model and no entry in ``reward_models``.
"""

from __future__ import annotations

from harness.config.schema import CORRECTNESS
from harness.selection.method import BatchContext, Declaration, Method, Reporting, RewardChoice


class Correctness(Method):
    description = "gold-answer reward: 1 if the extracted answer is correct, else 0"
    declared = Declaration(needs_gold=True, report=Reporting(row="Correctness Reward", rank=60, fixed_choice=True, role="gold"))

    def select(self, context: BatchContext) -> RewardChoice:
        return RewardChoice((CORRECTNESS,))
