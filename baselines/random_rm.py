"""Random RM: a reward model drawn uniformly at random for every batch (an explore-only baseline)."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.config.errors import ConfigError
from harness.selection.method import BatchContext, Declaration, Method, MethodContext, Reporting, RewardChoice


class RandomRM(Method):
    description = "a uniformly random reward model for each batch"
    declared = Declaration(report=Reporting(row="Random RM Selection", short="Random", rank=40))

    def __init__(self, config, context: MethodContext):
        super().__init__(config, context)
        self.rng = np.random.default_rng(self.seed)

    def validate(self) -> None:
        if not self.reward_models:
            raise ConfigError("method random_rm: reward_models is empty")

    def select(self, context: BatchContext) -> RewardChoice:
        return RewardChoice((self.reward_models[int(self.rng.integers(len(self.reward_models)))],))

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
