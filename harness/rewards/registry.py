"""Reward-model kinds by name (``reward_models[i].kind``); ``python -m harness ls`` lists them."""

from __future__ import annotations

from harness.config.registry import Registry
from harness.config.schema import CORRECTNESS
from harness.rewards.base import RewardModel

RM_KINDS: Registry[type[RewardModel]] = Registry("reward-model kind", {
    "loglik": "harness.rewards.loglik:LogLikelihoodRM",
    "implicit": "harness.rewards.implicit:ImplicitRM",
    "classifier": "harness.rewards.classifier:ClassifierRM",
    "correctness": "harness.rewards.correctness:CorrectnessRM",
    "noisy": "harness.rewards.noisy:NoisyRM",
    "roscoe": "harness.rewards.roscoe:RoscoeRM",
}, base=RewardModel)


__all__ = ["CORRECTNESS", "RM_KINDS"]
