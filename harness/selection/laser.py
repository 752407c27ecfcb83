"""LASeR: a bandit picks the reward model of each batch (paper sec. 3.2, Algorithm 1).

Arms are the configured reward models. The MAB reward of a step is the negative training loss of that
step, mapped to [0, 1] by the 20th/80th quantiles of earlier raw rewards (appendix A.2). LinUCB uses the
mean sentence embedding of the batch's prompts as context (L2-normalised by default so that alpha has
the same meaning for every policy size), as does linear Thompson sampling (``lints``); Exp3 and Gaussian
Thompson sampling (``gaussian_ts``) ignore the context.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from harness.config.errors import ConfigError
from harness.selection.bandits.base import Bandit
from harness.selection.bandits.registry import BANDITS
from harness.selection.bandits.scaling import QuantileRewardScaler
from harness.selection.method import BatchContext, Method, Reporting, RewardChoice, StepFeedback, check_reward_model


@dataclass
class LaserConfig:
    bandit: str = field(default="linucb", metadata={"help": "A bandit (python -m harness ls): linucb or lints (contextual), "
                                                             "exp3 or gaussian_ts."})
    normalize_context: bool = field(default=True, metadata={"help": "L2-normalise the context vector."})
    quantiles: list[float] = field(default_factory=lambda: [0.2, 0.8])
    arms: list[str] | None = field(default=None, metadata={"help": "Subset of reward models to choose from."})
    bandit_args: dict[str, Any] = field(default_factory=dict, metadata={
        "rest": True, "help": "The bandit's hyper-parameters, written beside these keys (alpha: 0.5; gamma: 0.1)."})


class Laser(Method):
    Config = LaserConfig
    description = "LASeR: a bandit (LinUCB, LinTS, Exp3, Gaussian TS) picks the RM per batch from the negative training loss"
    reporting = Reporting(row="LASeR (Ours)", variant_row="LASeR [{label}]", short="LASeR", rank=100)

    def __init__(self, config: LaserConfig, reward_models, seed: int, best_rm: str = "", profile=None):
        super().__init__(config, reward_models, seed, best_rm, profile)
        quantiles = config.quantiles
        if len(quantiles) != 2 or not 0 <= quantiles[0] < quantiles[1] <= 1:
            raise ConfigError(f"method.args.quantiles: expected [low, high] with 0 <= low < high <= 1, got {quantiles}")
        try:
            BANDITS.check(config.bandit)
        except ConfigError as error:
            raise ConfigError(f"method.args.bandit: {error}") from None
        self.bandit_class = BANDITS.get(config.bandit)
        self.bandit_config = BANDITS.parse(config.bandit, config.bandit_args, prefix="method.args",
                                           also_accepted=[f.name for f in fields(config) if f.name != "bandit_args"])
        self.arms = list(config.arms) if config.arms else [rm for rm in reward_models]
        self.scaler = QuantileRewardScaler(*config.quantiles)
        self.bandit: Bandit | None = None
        self.last_reward: float | None = None
        if not self.bandit_class.needs_context:  # a contextual bandit is built at the first context (its size)
            self.bandit = self.bandit_class.from_config(self.bandit_config, len(self.arms), None, seed)

    @property
    def needs_context(self) -> bool:  # type: ignore[override]
        return self.bandit_class.needs_context

    def validate(self) -> None:
        for i, arm in enumerate(self.arms):
            check_reward_model(f"method.args.arms[{i}]", arm, self.reward_models)
        if not self.arms:
            raise ConfigError("method laser: no reward models to choose from (reward_models is empty)")

    def _context(self, context: BatchContext) -> np.ndarray | None:
        if not self.needs_context:
            return None
        if context.embedding is None:
            raise ValueError(f"LASeR with {self.config.bandit} needs the batch embedding in the context")
        return self._vector(context.embedding)

    def _vector(self, embedding: np.ndarray) -> np.ndarray:
        """The bandit's context vector of an embedding (L2-normalised unless configured otherwise)."""
        x = np.asarray(embedding, dtype=np.float64)
        if self.config.normalize_context:
            norm = np.linalg.norm(x)
            x = x / norm if norm > 0 else x
        return x

    def _bandit_for(self, x: np.ndarray | None) -> Bandit:
        """The bandit, built at the first context for a contextual one (whose size it then knows)."""
        if self.bandit is None:
            self.bandit = self.bandit_class.from_config(self.bandit_config, len(self.arms), x.shape[0], self.seed)
        return self.bandit

    def select(self, context: BatchContext) -> RewardChoice:
        x = self._context(context)
        return RewardChoice((self.arms[self._bandit_for(x).select(x)],))

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
        saved = state["bandit"]
        if saved is None:
            self.bandit = None
            return
        kind = BANDITS.get(saved["type"])
        config = self.bandit_config if kind is self.bandit_class else BANDITS.parse(saved["type"], {}, prefix="bandit")
        self.bandit = kind.from_config(config, len(self.arms), saved.get("dim"), self.seed)
        self.bandit.load_state_dict(saved)
