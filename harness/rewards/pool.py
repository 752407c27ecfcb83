"""A run's pool of reward models, built from its config through ``RM_KINDS.build`` (each kind's ``from_config``); with a
``ModelPlacement``, each RM that owns models scores through an ``OffloadedRM`` (its models visit the GPU in turn)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from harness.common.content_cache import ContentCache
from harness.config.schema import RewardModelConfig
from harness.models.placement import ModelPlacement
from harness.rewards.base import BuildContext, RewardModel
from harness.rewards.cached import CachedRM
from harness.rewards.offloaded import OffloadedRM
from harness.rewards.registry import CORRECTNESS, RM_KINDS
from harness.tasks.base import plain_solution


def build_reward_models(configs: Sequence[RewardModelConfig], gold_reward: Callable[[str, Any], float], seed: int,
                        cache: ContentCache | None = None,
                        demonstration: Callable[[Any], str | None] = plain_solution,
                        placement: ModelPlacement | None = None) -> dict[str, RewardModel]:
    """Instantiate every configured RM through its kind's ``from_config``, plus the built-in
    ``correctness`` RM when none is configured under that name; ``demonstration`` is the task's written
    solution of an example (``Task.demonstration``), the reference of reference-based RMs. With a ``ContentCache``, the
    deterministic RMs reuse scores other runs already computed for the same (prompt, response). With a
    ``placement``, the models load onto its home device and each RM brings its own onto the GPU when it scores
    (under the cache, whose keys do not change); without one (the default) every RM is built as it always was."""
    context = BuildContext(gold_reward, seed, demonstration, placement=placement)
    settings = {c.name: RM_KINDS.parse(c.kind, c.settings, prefix=f"reward model {c.name!r}") for c in configs}
    pending = list(configs)
    while pending:  # an RM that wraps another (noisy) may be declared before it
        ready = [c for c in pending if RM_KINDS.get(c.kind).depends_on(settings[c.name]) in (None, *context.pool)]
        if not ready:
            raise ValueError(f"reward models with a missing or circular base: {[c.name for c in pending]}")
        for config in ready:
            kind = RM_KINDS.get(config.kind)
            context.requested.clear()
            rm = RM_KINDS.build(config.kind, settings[config.name], context.for_rm(config.name))
            if placement is not None and context.requested:  # the RM owns offloaded models: its group
                rm = OffloadedRM(rm, placement, context.requested)
            if cache is not None and kind.cacheable:
                identity = {"kind": config.kind, **kind.cache_identity(settings[config.name]), **rm.record(), "version": 1}
                rm = CachedRM(rm, cache, identity)
            context.pool[config.name] = rm
            pending.remove(config)
    if CORRECTNESS not in context.pool:
        context.pool[CORRECTNESS] = RM_KINDS.build("correctness", context=context.for_rm(CORRECTNESS))
    return context.pool
