"""Offline RM ensemble (after Coste et al., 2023): every response is scored by all reward models and the
preference pairs come from the mean score. ``standardize`` z-scores each RM's scores over the batch first,
so an RM with a wide scale does not dominate the mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.config.errors import ConfigError
from harness.selection.method import BatchContext, Method, RewardChoice, check_reward_model


@dataclass
class OfflineEnsembleConfig:
    standardize: bool = field(default=False, metadata={"help": "z-score each RM over the batch before averaging."})
    members: list[str] | None = field(default=None, metadata={"help": "RMs to average; default: the whole pool."})


class OfflineEnsemble(Method):
    Config = OfflineEnsembleConfig
    description = "all reward models score every response; pairs from the (standardised) mean score"

    def validate(self) -> None:
        members = self.config.members or self.reward_models
        if not members:
            raise ConfigError("method offline_ensemble: no reward models to average")
        for i, name in enumerate(members):
            check_reward_model(f"method.args.members[{i}]", name, self.reward_models)

    def select(self, context: BatchContext) -> RewardChoice:
        members = tuple(self.config.members or self.reward_models)
        return RewardChoice(members, "standardized_mean" if self.config.standardize else "mean")
