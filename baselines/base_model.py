"""Base model: no preference training at all; the run evaluates the initial policy (the paper's SFT row)."""

from __future__ import annotations

from harness.config.schema import CORRECTNESS
from harness.selection.method import BatchContext, Method, Reporting, RewardChoice


class BaseModel(Method):
    description = "no preference training: the initial policy evaluated as is (the SFT/base row)"
    trains = False
    reporting = Reporting(row="SFT", rank=0, fixed_choice=True, role="start")

    def select(self, context: BatchContext) -> RewardChoice:
        # The loop never asks (trains is False); a valid answer for any caller that does.
        return RewardChoice((CORRECTNESS,))
