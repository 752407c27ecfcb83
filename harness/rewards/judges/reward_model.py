"""``reward_model`` judge: any harness RM scores both outputs; P(output_1 better) = sigmoid(score_1 - score_2)."""

from __future__ import annotations

import numpy as np

from harness.rewards.judges.base import Judge, JudgeConfig
from harness.rewards.pool import build_reward_models


class RewardModelJudge(Judge):
    description = "a reward model's scores of both outputs, P(first better) = sigmoid(difference)"

    def __init__(self, config: JudgeConfig):
        super().__init__(config)
        if config.reward_model is None:
            raise ValueError("judge.reward_model: required for kind 'reward_model'")

        def no_gold(text, example):
            raise ValueError("a judge has no gold answers")

        self.rm = build_reward_models([config.reward_model], no_gold, seed=0)[config.reward_model.name]

    def preferences(self, instructions, outputs_1, outputs_2):
        first = np.asarray(self.rm.score(list(instructions), list(outputs_1)), dtype=float)
        second = np.asarray(self.rm.score(list(instructions), list(outputs_2)), dtype=float)
        p_output_1 = 1.0 / (1.0 + np.exp(-(first - second)))
        return (2.0 - p_output_1).tolist()
