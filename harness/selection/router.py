"""Per-prompt routing (``prompt_router``): a bandit picks the reward model for each prompt of a batch, not one
for the batch, in the spirit of BayesianRouter (Wu et al., "Bayesian Router for Reward Model Selection",
arXiv 2510.02850, ICLR 2026: per-pair Thompson sampling over RMs with an offline prior).

- Context: that prompt's embedding (L2-normalised), for a contextual bandit (linear Thompson sampling by
  default; any bandit of ``harness.selection.bandits`` works, a non-contextual one ignores the context).
- Feedback: each prompt's own pairs' mean training loss, negated and quantile-normalised as LASeR's MAB reward
  (paper appendix A.2); a prompt that made no pair teaches nothing.
- Prior (``prior: profile``): before the first prompt of a category is routed, each RM's arm receives
  ``prior_weight`` pseudo-observations at that prompt's context with reward = the RM's on-policy AUC on the
  category (the run's profile, ``harness.profile``). BayesianRouter fits its prior offline from preference data;
  the profile is this harness's offline measurement of RM competence, so it plays that part.

The batch is still one training step: its prompts' pairs, each labelled by its own RM, train the policy together.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from harness.common.selection_log import ALL_CATEGORIES
from harness.config.ranges import RANGE, at_least
from harness.selection.laser import Laser, LaserConfig
from harness.selection.method import BatchContext, Declaration, MethodContext, Reporting, RewardChoice, StepFeedback


@dataclass
class RouterConfig(LaserConfig):
    bandit: str = field(default="lints", metadata={"help": "A bandit (python -m harness ls), per prompt: lints (default) "
                                                            "or linucb (contextual), gaussian_ts or exp3."})
    prior: Literal["none", "profile"] = field(default="none", metadata={
        "help": "profile: seed each RM's arm with its on-policy AUC per category from the run's profile (needs profile:)."})
    prior_weight: int = field(default=2, metadata={"help": "Pseudo-observations per (category, RM) from the prior.",
                                                   RANGE: at_least(0)})


class PromptRouter(Laser):
    Config = RouterConfig
    description = ("a bandit (LinTS by default) picks the RM per prompt from its own pairs' loss, optional profile prior "
                   "(the project's design, inspired by BayesianRouter; not a reproduction of it)")
    declared = Declaration(routes_prompts=True, report=Reporting(row="Prompt Router", variant_row="Prompt Router [{label}]",
                                                                 short="Router", rank=95))

    def __init__(self, config: RouterConfig, context: MethodContext):
        super().__init__(config, context)
        self.declared = replace(self.declared, needs_profile=config.prior == "profile")
        self.primed: list[str] = []   # categories whose prior the bandit holds
        self.last_rewards: list[float | None] = []

    def _prompt_contexts(self, context: BatchContext) -> list[np.ndarray | None]:
        if not self.declared.needs_context:
            return [None] * len(context.prompts)
        if context.prompt_embeddings is None:
            raise ValueError(f"prompt_router with {self.config.bandit} needs each prompt's embedding in the context")
        return [self._vector(e) for e in context.prompt_embeddings]

    def _categories(self, context: BatchContext) -> list[str | None]:
        return list(context.categories) or [context.category] * len(context.prompts)

    def prior_competence(self, category: str | None) -> dict[str, float]:
        """Each arm's on-policy AUC on ``category`` by the profile (its pooled category when it lacks this one)."""
        if not self.profile:
            return {}
        categories = self.profile["categories"]
        found = categories.get(category or ALL_CATEGORIES) or categories.get(ALL_CATEGORIES) or {}
        rated = found.get("reward_models", {})
        return {arm: rated[arm]["auc"] for arm in self.arms if (rated.get(arm) or {}).get("auc") is not None}

    def _prime(self, category: str | None, x: np.ndarray | None) -> None:
        key = category or ALL_CATEGORIES
        if self.config.prior != "profile" or key in self.primed:
            return
        self.primed.append(key)
        for arm, auc in self.prior_competence(category).items():
            for _ in range(self.config.prior_weight):
                self.bandit.update(self.arms.index(arm), x, float(auc))

    def select(self, context: BatchContext) -> RewardChoice:
        raise TypeError("prompt_router chooses per prompt (route), not per batch")

    def route(self, context: BatchContext) -> list[RewardChoice]:
        choices = []
        for x, category in zip(self._prompt_contexts(context), self._categories(context)):
            bandit = self._bandit_for(x)
            self._prime(category, x)
            choices.append(RewardChoice((self.arms[bandit.select(x)],)))
        return choices

    def route_feedback(self, context: BatchContext, choices: list[RewardChoice], feedback: StepFeedback) -> None:
        self.last_rewards = []
        for x, choice, loss in zip(self._prompt_contexts(context), choices, feedback.prompt_losses):
            if loss is None:  # the prompt made no pair (or the step trained nothing): nothing to learn from
                self.last_rewards.append(None)
                continue
            reward = self.scaler.scale(-loss)
            self.last_rewards.append(reward)
            self.bandit.update(self.arms.index(choice.reward_models[0]), x, reward)

    def route_records(self) -> list[dict[str, Any]]:
        return [{"mab_reward": reward} for reward in self.last_rewards]

    def step_record(self) -> dict[str, Any]:
        return {}  # the rewards are per prompt (route_records)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "primed": list(self.primed)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.primed = list(state.get("primed", []))
