"""Exp3 (appendix A.2): p_k = (1-gamma) softmax(S)_k + gamma/K, arm ~ Categorical(p), S_arm += reward / p_arm."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.config.ranges import RANGE, between
from harness.selection.bandits.base import Bandit, BanditContext, rng_from_state


@dataclass
class Exp3Config:
    gamma: float = field(default=0.1, metadata={"help": "Exp3 exploration rate: the share of uniform play.",
                                                RANGE: between(0, 1)})


class Exp3(Bandit):
    """Exp3 as written in the paper's appendix A.2 (cumulative scores S, gamma-mixed softmax)."""

    Config = Exp3Config
    description = "Exp3 (appendix A.2): gamma-mixed softmax of cumulative importance-weighted rewards; no context"

    @classmethod
    def from_config(cls, config: Exp3Config, context: BanditContext) -> Exp3:
        return cls(context.num_arms, gamma=config.gamma, seed=context.seed)

    def __init__(self, num_arms: int, gamma: float = 0.1, seed: int = 0):
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"Exp3 gamma must lie in [0, 1], got {gamma}")
        self.num_arms, self.gamma = num_arms, gamma
        self.scores_ = np.zeros(num_arms)
        self.rng = np.random.default_rng(seed)

    def probabilities(self) -> np.ndarray:
        weights = np.exp(self.scores_ - self.scores_.max())
        return (1.0 - self.gamma) * weights / weights.sum() + self.gamma / self.num_arms

    def select(self, context: np.ndarray | None = None) -> int:
        return int(self.rng.choice(self.num_arms, p=self.probabilities()))

    def update(self, arm: int, context: np.ndarray | None, reward: float) -> None:
        self.scores_[arm] += float(reward) / self.probabilities()[arm]

    def add_arm(self) -> int:
        """A new arm with S = 0 (it starts at the gamma/K floor when the others have gathered reward)."""
        self.scores_ = np.append(self.scores_, 0.0)
        self.num_arms = len(self.scores_)
        return self.num_arms - 1

    def reset_arm(self, arm: int) -> None:
        self.scores_[arm] = 0.0

    def state_dict(self) -> dict[str, Any]:
        return {"type": "exp3", "gamma": self.gamma, "scores": self.scores_.copy(), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gamma = state["gamma"]
        self.scores_ = np.asarray(state["scores"], dtype=np.float64).copy()
        self.num_arms = len(self.scores_)
        self.rng = rng_from_state(state["rng"])
