"""SFT (paper sec. 4, baselines): supervised fine-tuning of the initial policy on the task's human-written
responses, with the same LoRA settings, optimiser, batches and iterations as the preference-trained methods,
and no reward model at all: "a reference for performance without preference optimization" (paper Table 1).
The loop is ``harness.loop.supervised``; what each task offers as a demonstration is ``Task.demonstration``."""

from __future__ import annotations

from harness.config.schema import CORRECTNESS
from harness.selection.method import BatchContext, Declaration, Method, Reporting, RewardChoice


class SFT(Method):
    description = "supervised fine-tuning on the task's human-written responses (no reward model)"
    declared = Declaration(trains_on="demonstrations", report=Reporting(row="SFT", rank=5, fixed_choice=True))

    def select(self, context: BatchContext) -> RewardChoice:
        # The supervised loop never asks (it trains on demonstrations); a valid answer for any caller that does.
        return RewardChoice((CORRECTNESS,))
