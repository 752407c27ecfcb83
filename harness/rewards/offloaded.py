"""An RM whose models are offloaded (``harness.models.placement``): it brings its model group onto the compute
device before it scores and sends it home after (or, with the slot's ``keep_last``, leaves it there until another
RM needs the slot).

The pool puts this wrapper under ``CachedRM``, so a cache hit moves nothing, and around the RM that owns the
models only: an RM built on another (``noisy``) calls that RM, whose wrapper does the move. The scoring code finds
its models' device when it scores (``model_device``), so inputs follow the model wherever the slot put it.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from harness.models.placement import ModelPlacement
from harness.rewards.base import RewardModel


class OffloadedRM(RewardModel):
    """``base`` scoring with ``group`` (its offloaded models) acquired on ``placement``; everything else is
    ``base``'s, so its records, states and shared-cache keys are those of the resident RM."""

    def __init__(self, base: RewardModel, placement: ModelPlacement, group: Sequence[torch.nn.Module]):
        self.base, self.placement, self.group = base, placement, tuple(group)
        self.name, self.needs_references = base.name, base.needs_references

    def score(self, prompts, responses, references=None):
        self.placement.acquire(self.group)
        try:
            return self.base.score(prompts, responses, references)
        finally:
            self.placement.done_scoring()

    def example_key(self, example: Any) -> str | None:
        return self.base.example_key(example)

    def record(self) -> dict[str, Any]:
        return self.base.record()

    def state_dict(self) -> dict[str, Any]:
        return self.base.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base.load_state_dict(state)
