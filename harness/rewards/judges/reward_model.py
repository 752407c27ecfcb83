"""``reward_model`` judge: any harness RM scores both outputs; P(output_1 better) = sigmoid(score_1 - score_2)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.config.errors import ConfigError
from harness.config.schema import RewardModelConfig
from harness.rewards.judges.base import Judge
from harness.rewards.pool import build_reward_models
from harness.rewards.registry import RM_KINDS


@dataclass
class RewardModelJudgeConfig:
    reward_model: RewardModelConfig = field(metadata={"help": "The RM that judges ({name, kind, ...its settings})."})


class RewardModelJudge(Judge):
    Config = RewardModelJudgeConfig
    description = "a reward model's scores of both outputs, P(first better) = sigmoid(difference)"

    @classmethod
    def label(cls, config: RewardModelJudgeConfig) -> str:
        return f"rm:{config.reward_model.name}"

    @classmethod
    def check(cls, config: RewardModelJudgeConfig) -> str | None:
        rm = config.reward_model
        try:
            RM_KINDS.parse(rm.kind, rm.settings, prefix="reward_model", also_accepted=("name", "kind"))
        except ConfigError as error:
            return str(error)
        return None

    def __init__(self, config: RewardModelJudgeConfig):
        super().__init__(config)

        def no_gold(text, example):
            raise ValueError("a judge has no gold answers")

        self.rm = build_reward_models([config.reward_model], no_gold, seed=0)[config.reward_model.name]

    def preferences(self, instructions, outputs_1, outputs_2):
        first = np.asarray(self.rm.score(list(instructions), list(outputs_1)), dtype=float)
        second = np.asarray(self.rm.score(list(instructions), list(outputs_2)), dtype=float)
        p_output_1 = 1.0 / (1.0 + np.exp(-(first - second)))
        return (2.0 - p_output_1).tolist()
