"""LASeR: a bandit picks the reward model of each batch (paper sec. 3.2, Algorithm 1).

Arms are the configured reward models. The MAB reward of a step is the negative training loss of that
step, mapped to [0, 1] by the 20th/80th quantiles of earlier raw rewards (appendix A.2); or, with
``mab_reward: accuracy_difference`` (appendix C, Table 13), the gain in the gold accuracy of the batch's
samples from before the update to fresh samples after it, scaled the same way; or, with ``mab_reward:
reward_spread`` (the project's own, after Razin et al., NeurIPS 2025), how much the chosen RM's scores vary among
each prompt's own samples relative to the whole batch (``harness.loop.reward_spread``: no gold answers, not the
loss), scaled the same way. LinUCB uses the mean
sentence embedding of the batch's prompts as context (L2-normalised by default so that alpha has the same
meaning for every policy size), as do linear Thompson sampling (``lints``) and NeuralUCB (``neural_ucb``);
Exp3 and Gaussian Thompson sampling (``gaussian_ts``) ignore the context.

The review discussion's pool changes: ``join: {rm: m}`` keeps an RM out of the arms until iteration m, when
it joins with fresh statistics (the others keep theirs); ``reset: {rm: m}`` forgets what the bandit learnt
about an RM at the start of iteration m.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

from harness.config.errors import ConfigError
from harness.config.ranges import RANGE, at_least, between
from harness.selection.bandits.base import Bandit, BanditContext
from harness.selection.bandits.registry import BANDITS
from harness.selection.bandits.scaling import QuantileRewardScaler
from harness.selection.method import (
    BatchContext,
    Declaration,
    Method,
    MethodContext,
    Reporting,
    RewardChoice,
    StepFeedback,
    check_reward_model,
)


@dataclass
class LaserConfig:
    bandit: str = field(default="linucb", metadata={"help": "A bandit (python -m harness ls): linucb, lints or neural_ucb (contextual), "
                                                             "exp3 or gaussian_ts."})
    normalize_context: bool = field(default=True, metadata={"help": "L2-normalise the context vector."})
    quantiles: list[float] = field(default_factory=lambda: [0.2, 0.8], metadata={
        "help": "[low, high] quantiles of the raw rewards so far that scale a reward to [0, 1].", RANGE: between(0, 1)})
    arms: list[str] | None = field(default=None, metadata={"help": "Subset of reward models to choose from."})
    mab_reward: Literal["negative_loss", "accuracy_difference", "reward_spread"] = field(default="negative_loss", metadata={
        "help": "negative_loss (the paper's); accuracy_difference (gold accuracy of the batch's samples after the "
                "update minus before; needs gold answers and samples each batch twice); or reward_spread (the chosen "
                "RM's mean within-prompt score std over the std of all the batch's scores, in [0, 1]; no gold; "
                "the project's own, after Razin et al. 2025)."})
    join: dict[str, int] = field(default_factory=dict, metadata={
        "help": "RM -> iteration at which it joins the arms (before it, it is never chosen).", RANGE: at_least(1)})
    reset: dict[str, int] = field(default_factory=dict, metadata={
        "help": "RM -> iteration at whose start its arm forgets what it learnt.", RANGE: at_least(1)})
    bandit_args: dict[str, Any] = field(default_factory=dict, metadata={
        "rest": True, "help": "The bandit's hyper-parameters, written beside these keys (alpha: 0.5; gamma: 0.1)."})


class Laser(Method):
    Config = LaserConfig
    description = "LASeR: a bandit (LinUCB, LinTS, Exp3, Gaussian TS, NeuralUCB) picks the RM per batch from the negative training loss"
    declared = Declaration(report=Reporting(row="LASeR (Ours)", variant_row="LASeR [{label}]", short="LASeR", rank=100))

    def __init__(self, config: LaserConfig, context: MethodContext):
        super().__init__(config, context)
        quantiles = config.quantiles
        if len(quantiles) != 2 or not 0 <= quantiles[0] < quantiles[1] <= 1:
            raise ConfigError(f"method.args.quantiles: expected [low, high] with 0 <= low < high <= 1, got {quantiles}")
        try:
            BANDITS.check(config.bandit)
        except ConfigError as error:
            raise ConfigError(f"method.args.bandit: {error}") from None
        self.bandit_name, self.bandit_class = config.bandit, BANDITS.get(config.bandit)
        self.bandit_config = BANDITS.parse(config.bandit, config.bandit_args, prefix="method.args",
                                           also_accepted=[f.name for f in fields(config) if f.name != "bandit_args"])
        accuracy_difference = config.mab_reward == "accuracy_difference"  # gold accuracy before and after each step
        self.declared = replace(self.declared, needs_context=self.bandit_class.needs_context,
                                needs_gold=accuracy_difference, accuracy_after=accuracy_difference,
                                reward_spread=config.mab_reward == "reward_spread")
        self.pool = list(config.arms) if config.arms else list(self.reward_models)  # every RM that is or becomes an arm
        self.arms = [rm for rm in self.pool if rm not in config.join]  # the arms so far, in the bandit's order
        self.events_done: list[str] = []  # the join/reset events already applied (resumable)
        self.scaler = QuantileRewardScaler(*config.quantiles)
        self.bandit: Bandit | None = None
        self.last_reward: float | None = None
        if not self.declared.needs_context:  # a contextual bandit is built at the first context (its size)
            self.bandit = BANDITS.build(self.bandit_name, self.bandit_config, BanditContext(len(self.arms), None, self.seed))

    def validate(self) -> None:
        for i, arm in enumerate(self.pool):
            check_reward_model(f"method.args.arms[{i}]", arm, self.reward_models)
        if not self.pool:
            raise ConfigError("method laser: no reward models to choose from (reward_models is empty)")
        for key in ("join", "reset"):
            for rm in getattr(self.config, key):
                check_reward_model(f"method.args.{key}.{rm}", rm, self.pool)
        if not self.arms:
            raise ConfigError("method.args.join: every arm joins later; at least one must be there from the start")
        for rm, iteration in self.config.reset.items():
            if iteration <= self.config.join.get(rm, 0):
                raise ConfigError(f"method.args.reset.{rm}: it joins at iteration {self.config.join[rm]}; "
                                  f"a reset must come later, got {iteration}")

    def _apply_pool_events(self, iteration: int) -> None:
        """Arms that join, and arms that are reset, at or before ``iteration`` (each once, in config order)."""
        for kind in ("join", "reset"):
            for rm, at in getattr(self.config, kind).items():
                event = f"{kind}:{rm}"
                if at > iteration or event in self.events_done:
                    continue
                self.events_done.append(event)
                if kind == "join":
                    self.arms.append(rm)
                    if self.bandit is not None:
                        self.bandit.add_arm()
                elif self.bandit is not None:
                    self.bandit.reset_arm(self.arms.index(rm))

    def _context(self, context: BatchContext) -> np.ndarray | None:
        if not self.declared.needs_context:
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
            self.bandit = BANDITS.build(self.bandit_name, self.bandit_config, BanditContext(len(self.arms), x.shape[0], self.seed))
        return self.bandit

    def select(self, context: BatchContext) -> RewardChoice:
        self._apply_pool_events(context.iteration)
        x = self._context(context)
        return RewardChoice((self.arms[self._bandit_for(x).select(x)],))

    def feedback(self, context: BatchContext, choice: RewardChoice, feedback: StepFeedback) -> None:
        if feedback.loss is None:  # no pair, no training loss: nothing to learn from
            self.last_reward = None
            return
        if self.config.mab_reward == "accuracy_difference":
            if feedback.sample_accuracy is None or feedback.accuracy_after is None:
                raise ValueError("the accuracy-difference MAB reward needs the samples' gold accuracy before and after the step")
            raw = feedback.accuracy_after - feedback.sample_accuracy
        elif self.config.mab_reward == "reward_spread":
            if feedback.reward_spread is None:
                raise ValueError("the reward-spread MAB reward needs the chosen RM's reward spread on the step's samples")
            raw = feedback.reward_spread
        else:
            raw = -feedback.loss
        reward = self.scaler.scale(raw)
        self.last_reward = reward
        self.bandit.update(self.arms.index(choice.reward_models[0]), self._context(context), reward)

    def step_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"mab_reward": self.last_reward}
        if self.config.join or self.config.reset:  # the pool changes: which arms there were, and the changes so far
            record.update(arms=list(self.arms), pool_events=list(self.events_done))
        return record

    def state_dict(self) -> dict[str, Any]:
        return {"bandit": self.bandit.state_dict() if self.bandit is not None else None, "scaler": self.scaler.state_dict(),
                "arms": list(self.arms), "events_done": list(self.events_done)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scaler.load_state_dict(state["scaler"])
        self.arms = list(state.get("arms", self.arms))
        self.events_done = list(state.get("events_done", []))
        saved = state["bandit"]
        if saved is None:
            self.bandit = None
            return
        config = self.bandit_config if BANDITS.get(saved["type"]) is self.bandit_class else None  # None: its defaults
        self.bandit = BANDITS.build(saved["type"], config, BanditContext(len(self.arms), saved.get("dim"), self.seed), prefix="bandit")
        self.bandit.load_state_dict(saved)
