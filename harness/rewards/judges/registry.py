"""Judges by kind (``compare.judge.kind``), built from their settings and a ``JudgeContext`` (``build_judge``)."""

from __future__ import annotations

from typing import Any

from harness.config.errors import ConfigError
from harness.config.registry import Registry
from harness.config.schema import JudgeConfig
from harness.rewards.judges.base import Judge, JudgeContext

JUDGES: Registry[type[Judge]] = Registry("judge", {
    "lm": "harness.rewards.judges.lm:LMJudge",
    "reward_model": "harness.rewards.judges.reward_model:RewardModelJudge",
    "alpaca_eval": "harness.rewards.judges.annotator:AlpacaEvalJudge",
}, base=Judge, context=JudgeContext)


def judge_settings(spec: JudgeConfig, prefix: str = "compare.judge") -> Any:
    """The judge kind's Config from a sweep's judge section, checked (ConfigError naming ``prefix``)."""
    settings = JUDGES.parse(spec.kind, spec.settings, prefix=prefix, also_accepted=("kind", "name"))
    problem = JUDGES.get(spec.kind).check(settings)
    if problem:
        raise ConfigError(f"{prefix}.{problem}")
    return settings


def judge_label(spec: JudgeConfig) -> str:
    """The annotator name written into the annotations: the sweep's, else the kind's default."""
    return spec.name or JUDGES.get(spec.kind).label(judge_settings(spec))


def build_judge(spec: JudgeConfig) -> Judge:
    return JUDGES.build(spec.kind, judge_settings(spec), JudgeContext())
