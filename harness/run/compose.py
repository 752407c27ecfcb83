"""One run composed from its config: the memory plan it follows, the RM profile it is measured against, the task
and its splits, the policy, the reward-model pool, the content cache and the method; what each piece's registry
builds, in the order that keeps every random draw where it was."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harness.common.content_cache import ContentCache
from harness.common.files import write_json_atomic
from harness.common.seeding import stable_seed
from harness.config.schema import RunConfig
from harness.models.placement import placement_for
from harness.models.policy import Policy
from harness.models.start import StartPolicy, merged_model, start_identity
from harness.plan.runtime import follow_plan, plan_record
from harness.profile.build import ensure_profile
from harness.rewards.base import RewardModel
from harness.rewards.pool import build_reward_models
from harness.selection.method import Method, MethodContext
from harness.selection.registry import build_method
from harness.store.layout import CONTENT_CACHE, PLAN, PROFILE, TASK_DATA
from harness.tasks.base import Splits, Task
from harness.tasks.registry import get_task

log = logging.getLogger("harness.run")


@dataclass
class ComposedRun:
    """Everything a run's loop works with; ``config`` has the memory settings of the plan it follows."""

    config: RunConfig
    task: Task
    splits: Splits
    policy: Policy
    pool: dict[str, RewardModel]
    method: Method
    cache: ContentCache | None
    profile: dict[str, Any] | None


def compose(config: RunConfig, out: Path, start: StartPolicy | None = None) -> ComposedRun:
    """Build the run's pieces; the memory plan (on a GPU), the profile and what the task's loader kept are written
    to the run folder ``out`` as they are known. With ``start`` (``train.start: sft``) the policy is its weights
    merged into ``policy.model`` with a fresh LoRA on top, drawn from the same seed as a run from the base model."""
    config, plan = follow_plan(config)  # on a GPU, the memory plan fills in the null settings; on a CPU: all off
    memory = config.memory
    if plan is not None:
        record = plan_record(config, memory, plan)
        write_json_atomic(out / PLAN, record)
        log.info("memory plan:\n%s", record["table"])
    profile = ensure_profile(config, start=start) if config.profile is not None else None
    if profile is not None:
        write_json_atomic(out / PROFILE, profile)
    start_model = merged_model(config.policy, start.weights) if start is not None else None  # its draws: before the seed
    torch.manual_seed(stable_seed(config.seed, "init"))  # after the profile, which samples with its own seeds
    task = get_task(config.task.name, config.task.options)
    splits = task.splits(config.task, config.seed)
    log.info("task %s: %d train / %d dev / %d test", task.name, len(splits.train), len(splits.dev), len(splits.test))
    if getattr(task, "load_report", None):
        write_json_atomic(out / TASK_DATA, task.load_report)
    policy = Policy(config.policy) if start is None else Policy(config.policy, start_model, start=start_identity(start))
    policy.use_memory_settings(memory)
    cache = ContentCache(Path(config.cache_dir) / CONTENT_CACHE) if config.cache_dir else None
    pool = build_reward_models(config.reward_models, task.gold_reward, config.seed, cache=cache, demonstration=task.demonstration,
                               placement=placement_for(memory.offload_reward_models, "auto"))
    method = build_method(config.method.name, config.method.args, MethodContext.of_run(config, profile))
    return ComposedRun(config, task, splits, policy, pool, method, cache, profile)
