"""Reward-model kinds by name (``reward_models[i].kind``); ``python -m harness ls`` lists them. A kind is built
from its settings (its ``Config``) and a ``BuildContext`` naming the RM: ``RM_KINDS.build(kind, settings, context)``
(``harness.rewards.pool.build_reward_models`` builds a run's pool so)."""

from __future__ import annotations

from harness.config.registry import Registry
from harness.config.schema import CORRECTNESS
from harness.rewards.base import BuildContext, RewardModel

RM_KINDS: Registry[type[RewardModel]] = Registry("reward-model kind", {
    "loglik": "harness.rewards.loglik:LogLikelihoodRM",
    "implicit": "harness.rewards.implicit:ImplicitRM",
    "classifier": "harness.rewards.classifier:ClassifierRM",
    "correctness": "harness.rewards.correctness:CorrectnessRM",
    "noisy": "harness.rewards.noisy:NoisyRM",
    "roscoe": "harness.rewards.roscoe:RoscoeRM",
}, base=RewardModel, context=BuildContext)


__all__ = ["CORRECTNESS", "RM_KINDS"]
