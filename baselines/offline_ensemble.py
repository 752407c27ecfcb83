"""Offline RM ensemble (after Coste et al., 2024): every response is scored by all reward models and the
preference pairs come from one combined score: the mean by default, or any reward combiner
(``python -m harness ls``): ``standardized_mean``, worst-case ``min`` (WCO), uncertainty-weighted ``uwo``,
GDPO's ``normalize_then_sum``, ``rank_mean``, with its settings in ``combine_args``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.config.errors import ConfigError
from harness.selection.method import (
    BatchContext,
    Declaration,
    Method,
    Reporting,
    RewardChoice,
    check_combiner,
    check_reward_model,
)


@dataclass
class OfflineEnsembleConfig:
    combine: str = field(default="mean", metadata={"help": "A reward combiner (python -m harness ls): mean, "
                                                           "standardized_mean, min, uwo, normalize_then_sum, rank_mean, agreement."})
    combine_args: dict[str, Any] = field(default_factory=dict, metadata={"help": "The combiner's settings, e.g. {weight: 0.5} for uwo."})
    members: list[str] | None = field(default=None, metadata={"help": "RMs to combine; default: the whole pool."})


class OfflineEnsemble(Method):
    Config = OfflineEnsembleConfig
    description = "all reward models score every response; pairs from one combined score (mean, min, uwo, ...)"
    declared = Declaration(report=Reporting(row="Offline RM Ensemble", variant_row="Offline RM Ensemble [{label}]",
                                            short="Ensemble", rank=30, fixed_choice=True))

    def validate(self) -> None:
        members = self.config.members or self.reward_models
        if not members:
            raise ConfigError("method offline_ensemble: no reward models to combine")
        for i, name in enumerate(members):
            check_reward_model(f"method.args.members[{i}]", name, self.reward_models)
        check_combiner(self.config.combine, self.config.combine_args, len(members), key="method.args.combine")

    def select(self, context: BatchContext) -> RewardChoice:
        members = tuple(self.config.members or self.reward_models)
        return RewardChoice(members, self.config.combine, self.config.combine_args)
