"""Single RM: one named reward model labels every batch.

"Best RM" is this method with the leaderboard's best RM (the run config's ``best_rm``, the default
here); "Avg. RM" is the mean over runs of this method with each RM of the pool (a report-level row).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from harness.config.errors import ConfigError
from harness.selection.method import BatchContext, Declaration, Method, MethodContext, Reporting, RewardChoice, check_reward_model


@dataclass
class SingleRMConfig:
    rm: str = field(default="", metadata={"help": "Reward model name; empty means the run's best_rm."})


class SingleRM(Method):
    Config = SingleRMConfig
    description = "one reward model for every batch (Best RM with best_rm; Avg. RM over all RMs)"
    declared = Declaration(report=Reporting(rank=80, fixed_choice=True))

    def __init__(self, config: SingleRMConfig, context: MethodContext):
        super().__init__(config, context)
        self.declared = replace(self.declared, fixed_rm=self.rm)

    @property
    def rm(self) -> str:
        return self.config.rm or self.best_rm

    def validate(self) -> None:
        if not self.rm:
            raise ConfigError("method single_rm: set method.args.rm or the run's best_rm")
        check_reward_model("method.args.rm" if self.config.rm else "best_rm", self.rm, self.reward_models)

    def select(self, context: BatchContext) -> RewardChoice:
        return RewardChoice((self.rm,))
