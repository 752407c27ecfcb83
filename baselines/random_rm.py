"""Random RM: a reward model drawn uniformly at random for every batch (an explore-only baseline)."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.config.errors import ConfigError
from harness.selection.method import BatchContext, Method, Reporting, RewardChoice


class RandomRM(Method):
    description = "a uniformly random reward model for each batch"
    reporting = Reporting(row="Random RM Selection", short="Random", rank=40)

    def __init__(self, config, reward_models, seed: int, best_rm: str = "", profile=None):
        super().__init__(config, reward_models, seed, best_rm, profile)
        self.rng = np.random.default_rng(seed)

    def validate(self) -> None:
        if not self.reward_models:
            raise ConfigError("method random_rm: reward_models is empty")

    def select(self, context: BatchContext) -> RewardChoice:
        return RewardChoice((self.reward_models[int(self.rng.integers(len(self.reward_models)))],))

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
