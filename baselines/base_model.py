"""Base model: no training at all; the run evaluates the initial policy (the policy every other method starts
from; the paper's "SFT" row is a trained baseline, ``baselines/sft.py``)."""

from __future__ import annotations

from harness.config.schema import CORRECTNESS
from harness.selection.method import BatchContext, Declaration, Method, Reporting, RewardChoice


class BaseModel(Method):
    description = "no training: the initial policy evaluated as is (the Base row)"
    declared = Declaration(trains_on="nothing", report=Reporting(row="Base", rank=0, fixed_choice=True, role="start"))

    def select(self, context: BatchContext) -> RewardChoice:
        # The loop never asks (it trains on nothing); a valid answer for any caller that does.
        return RewardChoice((CORRECTNESS,))
