"""Sequential RM: reward models take turns in a fixed order (an explore-only baseline).

By default the RM changes every iteration (iteration m uses order[(m-1) mod K]); ``every: step``
cycles through the order batch by batch instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from harness.config.errors import ConfigError
from harness.selection.method import BatchContext, Declaration, Method, Reporting, RewardChoice, check_reward_model


@dataclass
class SequentialRMConfig:
    order: list[str] | None = field(default=None, metadata={"help": "RM order; default: the pool's order."})
    every: Literal["iteration", "step"] = "iteration"


class SequentialRM(Method):
    Config = SequentialRMConfig
    description = "reward models in a fixed order, switching every iteration (or every step)"
    declared = Declaration(report=Reporting(row="Sequential RM Selection", short="Sequential", rank=50))

    @property
    def order(self) -> list[str]:
        return list(self.config.order) if self.config.order else self.reward_models

    def validate(self) -> None:
        if not self.order:
            raise ConfigError("method sequential_rm: no reward models to cycle through")
        for i, name in enumerate(self.order):
            check_reward_model(f"method.args.order[{i}]", name, self.reward_models)

    def select(self, context: BatchContext) -> RewardChoice:
        position = context.iteration - 1 if self.config.every == "iteration" else context.step
        return RewardChoice((self.order[position % len(self.order)],))
