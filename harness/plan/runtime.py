"""What a run does with its memory plan when it starts: ``memory`` settings left null are resolved from the plan on
the GPU the run got (its memory, or ``memory.gpu_memory_gib``); on a CPU they are off, so a CPU run is unchanged.

A two-GPU plan (``plan --gpus 2``; the run's process sees two) puts the model RMs on the second GPU. A plan that decodes every row at once resolves ``generation_rows`` to null, the sampler of a run without a plan; a
plan that needs chunks sets it, and the rows then draw from their own counter-based streams (``harness.models``).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import torch

from harness.config.errors import ConfigError
from harness.config.schema import MemoryConfig, RewardModelConfig, RunConfig
from harness.models.loading import pick_device
from harness.plan.estimate import GIB
from harness.plan.models import UnknownModelError
from harness.plan.placement import H100, Device, RunPlan, choose
from harness.plan.table import PlannedRuns, format_run_plan
from harness.rewards.registry import RM_KINDS

log = logging.getLogger("harness.plan")


def this_gpu(memory_gib: float | None) -> Device:
    """The GPU of this process as a plan's device: its name and memory (or ``memory_gib``); the H100's throughput
    figures stand in for the time model (times are not used to decide what fits)."""
    properties = torch.cuda.get_device_properties(torch.cuda.current_device())
    total = memory_gib if memory_gib is not None else properties.total_memory / GIB
    return dataclasses.replace(H100, name=properties.name, memory_gib=float(total))


def off(memory: MemoryConfig) -> MemoryConfig:
    """Null settings turned off (no plan: a CPU run)."""
    return dataclasses.replace(memory, gradient_checkpointing=bool(memory.gradient_checkpointing),
                               offload_reward_models=bool(memory.offload_reward_models))


def resolve_memory(config: RunConfig) -> tuple[MemoryConfig, RunPlan | None]:
    """The run's memory settings with nulls resolved, and the plan they came from (None on a CPU)."""
    memory = config.memory
    if pick_device(config.policy.device).type != "cuda":
        return off(memory), None
    try:
        plan = choose(config, this_gpu(memory.gpu_memory_gib), gpus=torch.cuda.device_count())
    except UnknownModelError as error:  # a model whose config cannot be read: run as without a plan, and say so
        log.warning("no memory plan (%s): memory settings left as configured", error)
        return off(memory), None
    if not plan.fits:
        raise ConfigError(f"memory plan: {plan.refusal}")
    decisions = plan.decisions
    rows = memory.generation_rows
    if rows is None and decisions.generation_rows < plan.all_rows:  # some generate call must decode in chunks
        rows = decisions.generation_rows
    resolved = dataclasses.replace(memory, generation_rows=rows, gradient_checkpointing=decisions.gradient_checkpointing,
                                   offload_reward_models=decisions.offload_reward_models)
    return resolved, plan


def follow_plan(config: RunConfig) -> tuple[RunConfig, RunPlan | None]:
    """``config`` as its run executes it: memory settings resolved and, under a two-GPU plan, the model RMs on the
    second GPU (those left to ``device: auto``)."""
    memory, plan = resolve_memory(config)
    config = dataclasses.replace(config, memory=memory)
    if plan is not None and plan.gpus == 2:
        config = dataclasses.replace(config, reward_models=[on_second_gpu(rm) for rm in config.reward_models])
    return config, plan


def on_second_gpu(rm: RewardModelConfig) -> RewardModelConfig:
    accepted = {f.name for f in dataclasses.fields(RM_KINDS.config_class(rm.kind))}
    if "device" not in accepted or rm.settings.get("device", "auto") != "auto":
        return rm
    return dataclasses.replace(rm, settings={**rm.settings, "device": "cuda:1"})


def plan_record(config: RunConfig, memory: MemoryConfig, plan: RunPlan) -> dict[str, Any]:
    """What a run writes to ``plan.json``: the resolved settings, each stage's planned peak and the table."""
    return {"memory": dataclasses.asdict(memory), "device": dataclasses.asdict(plan.device),
            "stages": {stage.name: round(stage.peak_gib, 3) for stage in plan.stages},
            "step_seconds": {name: round(seconds, 3) for name, seconds in plan.step_seconds.items()},
            "table": format_run_plan(PlannedRuns([config.out], plan))}
