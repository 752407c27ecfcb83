"""LASeR: a bandit picks the reward model of each batch (paper sec. 3.2, Algorithm 1).

Arms are the configured reward models. The MAB reward of a step is the negative training loss of that
step, mapped to [0, 1] by the 20th/80th quantiles of earlier raw rewards (appendix A.2). LinUCB uses the
mean sentence embedding of the batch's prompts as context (L2-normalised by default so that alpha has
the same meaning for every policy size); Exp3 ignores the context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from harness.config.errors import ConfigError
from harness.selection.bandits.base import Bandit
from harness.selection.bandits.exp3 import Exp3
from harness.selection.bandits.linucb import LinUCB
from harness.selection.bandits.scaling import QuantileRewardScaler
from harness.selection.method import BatchContext, Method, RewardChoice, StepFeedback, check_reward_model


@dataclass
class LaserConfig:
    bandit: Literal["linucb", "exp3"] = field(default="linucb", metadata={"help": "linucb (contextual) or exp3."})
    alpha: float = field(default=0.5, metadata={"help": "LinUCB exploration (review discussion: 0.4-0.6 best)."})
    gamma: float = field(default=0.1, metadata={"help": "Exp3 exploration rate."})
    b_init_std: float = field(default=0.01, metadata={"help": "LinUCB: std of the random initial b_k."})
    normalize_context: bool = field(default=True, metadata={"help": "L2-normalise the context vector."})
    quantiles: list[float] = field(default_factory=lambda: [0.2, 0.8])
    arms: list[str] | None = field(default=None, metadata={"help": "Subset of reward models to choose from."})


class Laser(Method):
    Config = LaserConfig
    description = "LASeR: a bandit (LinUCB or Exp3) picks the RM per batch from the negative training loss"

    def __init__(self, config: LaserConfig, reward_models, seed: int, best_rm: str = ""):
        super().__init__(config, reward_models, seed, best_rm)
        quantiles = config.quantiles
        if len(quantiles) != 2 or not 0 <= quantiles[0] < quantiles[1] <= 1:
            raise ConfigError(f"method.args.quantiles: expected [low, high] with 0 <= low < high <= 1, got {quantiles}")
        self.arms = list(config.arms) if config.arms else [rm for rm in reward_models]
        self.scaler = QuantileRewardScaler(*config.quantiles)
        self.bandit: Bandit | None = None
        self.last_reward: float | None = None
        if config.bandit == "exp3":
            self.bandit = Exp3(len(self.arms), gamma=config.gamma, seed=seed)

    @property
    def needs_context(self) -> bool:  # type: ignore[override]
        return self.config.bandit == "linucb"

    def validate(self) -> None:
        for i, arm in enumerate(self.arms):
            check_reward_model(f"method.args.arms[{i}]", arm, self.reward_models)
        if not self.arms:
            raise ConfigError("method laser: no reward models to choose from (reward_models is empty)")

    def _context(self, context: BatchContext) -> np.ndarray | None:
        if not self.needs_context:
            return None
        if context.embedding is None:
            raise ValueError("LASeR with LinUCB needs the batch embedding in the context")
        x = np.asarray(context.embedding, dtype=np.float64)
        if self.config.normalize_context:
            norm = np.linalg.norm(x)
            x = x / norm if norm > 0 else x
        return x

    def select(self, context: BatchContext) -> RewardChoice:
        x = self._context(context)
        if self.bandit is None:  # LinUCB's dimension is known at the first context
            self.bandit = LinUCB(len(self.arms), x.shape[0], alpha=self.config.alpha,
                                 b_init_std=self.config.b_init_std, seed=self.seed)
        return RewardChoice((self.arms[self.bandit.select(x)],))

    def feedback(self, context: BatchContext, choice: RewardChoice, feedback: StepFeedback) -> None:
        if feedback.loss is None:  # no pair, no training loss: nothing to learn from
            self.last_reward = None
            return
        reward = self.scaler.scale(-feedback.loss)
        self.last_reward = reward
        self.bandit.update(self.arms.index(choice.reward_models[0]), self._context(context), reward)

    def step_record(self) -> dict[str, Any]:
        return {"mab_reward": self.last_reward}

    def state_dict(self) -> dict[str, Any]:
        return {"bandit": self.bandit.state_dict() if self.bandit is not None else None, "scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scaler.load_state_dict(state["scaler"])
        if state["bandit"] is None:
            self.bandit = None
        elif state["bandit"]["type"] == "linucb":
            bandit = LinUCB(len(self.arms), state["bandit"]["dim"], alpha=self.config.alpha)
            bandit.load_state_dict(state["bandit"])
            self.bandit = bandit
        else:
            self.bandit = Exp3(len(self.arms), gamma=self.config.gamma)
            self.bandit.load_state_dict(state["bandit"])
