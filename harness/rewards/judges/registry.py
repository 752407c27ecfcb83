"""Judges by kind (``compare.judge.kind``)."""

from __future__ import annotations

from harness.config.registry import Registry
from harness.rewards.judges.base import Judge, JudgeConfig

JUDGES: Registry[type[Judge]] = Registry("judge", {
    "lm": "harness.rewards.judges.lm:LMJudge",
    "reward_model": "harness.rewards.judges.reward_model:RewardModelJudge",
    "alpaca_eval": "harness.rewards.judges.annotator:AlpacaEvalJudge",
}, base=Judge)


def build_judge(config: JudgeConfig) -> Judge:
    return JUDGES.get(config.kind)(config)
