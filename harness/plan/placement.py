"""Choosing a run's placement on a GPU budget, and the run's time.

Candidates, from cheapest to dearest in time: everything resident and every row decoded at once; gradient
checkpointing (about one more forward pass per training step); RMs offloaded to pinned CPU memory (each moved in
when it scores: a 14 GiB copy at PCIe speed, about a second per step); fewer rows decoded together (the weights
are read once per token step for each chunk instead of once for all). For each combination of the first two
switches the plan takes the most rows that fit, then keeps the candidate of least estimated step time. A setting
the run config gives (``memory.*`` not null) is kept as given. A run that fits no candidate on one GPU is
planned on two when ``gpus`` allows (the RMs on the second), else refused in one line naming the stage and the
missing GiB.

The time model (stated, not fitted): matrix products at ``MATMUL_EFFICIENCY`` of the GPU's bf16 peak
(2 FLOPs per parameter per token forward; LoRA training adds one backward pass for the inputs, checkpointing one
more forward, DPO a reference forward); decoding at ``BANDWIDTH_EFFICIENCY`` of the memory bandwidth (each token
step reads the weights and the chunk's KV cache); host-to-GPU copies at ``PCIE_BYTES_PER_S``. A measured
``bench --only paper-scale`` result for the same GPU corrects each stage by its measured / predicted ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.common.content_cache import cache_home
from harness.common.files import read_json
from harness.config.schema import RunConfig, TaskConfig
from harness.plan.estimate import GIB, Decisions, RunShape, Stage, run_shape, scoring_bytes, stages

RESERVED_GIB = 2.0           # CUDA context, cuBLAS workspaces and the allocator's fragmentation
MATMUL_EFFICIENCY = 0.4
BANDWIDTH_EFFICIENCY = 0.6
PCIE_BYTES_PER_S = 25e9


@dataclass(frozen=True)
class Device:
    name: str
    memory_gib: float
    bf16_flops: float
    bandwidth: float          # bytes per second

    @property
    def budget_bytes(self) -> int:
        return int((self.memory_gib - RESERVED_GIB) * GIB)


H100 = Device("NVIDIA H100 80GB HBM3", 80.0, 989e12, 3.35e12)


def bench_result_path() -> Path:
    """Where ``bench --only paper-scale`` keeps a GPU's measured step (read by the time model)."""
    return cache_home() / "bench" / "paper_scale.json"


def measured_corrections(device: Device) -> dict[str, float]:
    """Measured / predicted seconds per stage of the paper-scale bench on a GPU named as ``device`` (none: {})."""
    path = bench_result_path()
    try:
        result = read_json(path) if path.exists() else None
    except (OSError, ValueError):
        return {}
    if not result or result.get("device") != device.name or result.get("reduced"):
        return {}
    planned, measured = result.get("planned_step_seconds", {}), result.get("stages", {})
    return {stage: measured[stage]["seconds"] / planned[stage] for stage in planned
            if stage in measured and planned[stage] > 0}


def device_with_memory(memory_gib: float | None, base: Device = H100) -> Device:
    return base if memory_gib is None else replace(base, memory_gib=float(memory_gib))


@dataclass
class RunPlan:
    decisions: Decisions | None
    stages: list[Stage]
    device: Device
    gpus: int = 1
    second_gpu: list[Stage] = field(default_factory=list)   # the RMs' GPU of a two-GPU plan
    step_seconds: dict[str, float] = field(default_factory=dict)
    steps: int | None = None
    evaluation_seconds: float | None = None   # dev after every iteration, then test
    refusal: str | None = None
    all_rows: int = 0        # the most rows one generate call of the run decodes (sampling, evaluation, profile)

    @property
    def fits(self) -> bool:
        return self.refusal is None

    @property
    def peak_bytes(self) -> int:
        return max((s.peak_bytes for s in self.stages + self.second_gpu), default=0)

    @property
    def hours(self) -> float | None:
        if self.steps is None or self.evaluation_seconds is None:
            return None
        return (self.steps * sum(self.step_seconds.values()) + self.evaluation_seconds) / 3600


def train_examples(task: TaskConfig) -> int | None:
    """Training prompts of the task's split when the config says how many (None: only the data knows)."""
    if task.split_sizes:
        return task.split_sizes[0]
    if task.max_examples:
        return int(task.max_examples * task.split_fractions[0])
    return None


def run_steps(config: RunConfig) -> int | None:
    examples = train_examples(config.task)
    if examples is None:
        return None
    per_iteration = math.ceil(examples / config.train.batch_size)
    if config.train.max_steps_per_iteration is not None:
        per_iteration = min(per_iteration, config.train.max_steps_per_iteration)
    return config.train.iterations * per_iteration if config.mode == "train" else per_iteration


def evaluation_seconds(config: RunConfig, run: RunShape, decisions: Decisions, device: Device) -> float | None:
    """Greedy (or voting) decoding of the dev split after every iteration and of the test split at the end."""
    sizes = config.task.split_sizes
    if not sizes:
        return None
    dev = min(sizes[1], config.eval.max_dev_examples or sizes[1]) if config.eval.dev_every_iteration else 0
    test = min(sizes[2], config.eval.max_test_examples or sizes[2])
    iterations = config.train.iterations if config.mode == "train" and run.trains else 0
    batches = iterations * math.ceil(dev / config.eval.batch_size) + math.ceil(test / config.eval.batch_size)
    policy = run.policy
    chunks = math.ceil(run.eval_rows / min(decisions.generation_rows, run.eval_rows))
    kv = run.eval_rows * (run.prompt_tokens + run.eval_new_tokens / 2) * policy.shape.kv_bytes_per_token(policy.dtype)
    read = chunks * policy.weight_bytes + kv
    return batches * run.eval_new_tokens * read / (device.bandwidth * BANDWIDTH_EFFICIENCY)


def scored_by_step(config: RunConfig, run: RunShape) -> list:
    """The RMs that score a step: every RM for an ensemble, else one (the largest, for a bound)."""
    if "ensemble" in config.method.name:
        return list(run.reward_models)
    return sorted(run.reward_models, key=lambda m: m.weight_bytes)[-1:]


def step_seconds(config: RunConfig, run: RunShape, decisions: Decisions, device: Device) -> dict[str, float]:
    """Estimated seconds of one training step, by stage (the time model of this module's docstring)."""
    flops = device.bf16_flops * MATMUL_EFFICIENCY
    bandwidth = device.bandwidth * BANDWIDTH_EFFICIENCY
    policy = run.policy
    n = policy.shape.parameters
    seconds: dict[str, float] = {}
    if run.samples:
        rows, chunk, new = run.rows, min(decisions.generation_rows, run.rows), run.new_tokens
        kv = policy.shape.kv_bytes_per_token(policy.dtype)
        decode = 0.0
        for start in range(0, rows, chunk):
            size = min(chunk, rows - start)
            read = policy.weight_bytes + size * (run.prompt_tokens + new / 2) * kv
            decode += new * max(read / bandwidth, 2 * n * size / flops)
        prefill = 2 * n * run.batch_size * run.prompt_tokens / flops
        seconds["sample"] = prefill + decode
        tokens = rows * (run.prompt_tokens + new)
        scored = scored_by_step(config, run)
        seconds["score"] = sum(2 * m.shape.parameters * tokens / flops for m in scored)
        if decisions.offload_reward_models:
            seconds["score"] += sum(2 * m.weight_bytes / PCIE_BYTES_PER_S for m in scored)
    if run.trains:
        pairs = run.batch_size * config.train.pairs_per_prompt if run.samples else run.batch_size
        tokens = pairs * (2 if run.samples else 1) * (run.prompt_tokens + run.new_tokens)
        passes = 4 + (2 if decisions.gradient_checkpointing else 0) + (2 if run.reference_pass and run.samples else 0)
        seconds["train"] = config.train.updates_per_step * passes * n * tokens / flops
    corrections = measured_corrections(device)
    return {stage: value * corrections.get(stage, 1.0) for stage, value in seconds.items()}


def _fits(run: RunShape, decisions: Decisions, budget: int) -> bool:
    return all(s.peak_bytes <= budget for s in stages(run, decisions))


def _most_rows(run: RunShape, offload: bool, checkpointing: bool, budget: int,
               fixed_rows: int | None) -> int | None:
    """The most rows decoded together with which every stage fits (None: not even one row)."""
    def fits(rows: int) -> bool:
        return _fits(run, Decisions(offload, rows, checkpointing), budget)

    if fixed_rows is not None:
        return fixed_rows if fits(fixed_rows) else None
    largest = run.largest_generation
    if fits(largest):
        return largest
    low, high = 0, largest  # fits(low) holds (or low == 0), fits(high) does not
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    if low >= run.num_samples:  # whole prompts per chunk: a chunk cut inside a prompt's samples repeats its prompt pass
        low -= low % run.num_samples
    return low or None


def choose(config: RunConfig, device: Device, gpus: int = 1) -> RunPlan:
    """The placement of least estimated step time that fits ``device`` (see the module docstring)."""
    run = run_shape(config)
    memory = config.memory
    budget = device.budget_bytes
    offloads = [memory.offload_reward_models] if memory.offload_reward_models is not None else [False, True]
    checkpoints = [memory.gradient_checkpointing] if memory.gradient_checkpointing is not None else [False, True]
    best: RunPlan | None = None
    for offload in offloads:
        for checkpointing in checkpoints:
            rows = _most_rows(run, offload, checkpointing, budget, memory.generation_rows)
            if rows is None:
                continue
            decisions = Decisions(offload, rows, checkpointing)
            seconds = step_seconds(config, run, decisions, device)
            candidate = RunPlan(decisions, stages(run, decisions), device, step_seconds=seconds,
                                steps=run_steps(config) if run.samples or run.trains else 0,
                                evaluation_seconds=evaluation_seconds(config, run, decisions, device),
                                all_rows=run.largest_generation)
            if best is None or _seconds(candidate) < _seconds(best) * 0.999:
                best = candidate
    if best is not None:
        return best
    if gpus >= 2:
        two = two_gpu_plan(config, run, device)
        if two is not None:
            return two
    return refusal(config, run, device, offloads[-1], checkpoints[-1], memory.generation_rows)


def _seconds(plan: RunPlan) -> float:
    """What candidates are ranked by: a step's time, then the evaluation's (rows decoded together matter there too)."""
    return sum(plan.step_seconds.values()) * max(plan.steps or 1, 1) + (plan.evaluation_seconds or 0.0)


def two_gpu_plan(config: RunConfig, run: RunShape, device: Device) -> RunPlan | None:
    """The policy on one GPU, the RMs (resident) on a second: when they do not fit beside each other."""
    policy_only = replace(run, reward_models=())
    for checkpointing in (False, True):
        rows = _most_rows(policy_only, True, checkpointing, device.budget_bytes, config.memory.generation_rows)
        if rows is None:
            continue
        weights = sum(m.weight_bytes for m in run.reward_models)
        rm_stages = [Stage(f"score {m.name}", weights + scoring_bytes(m, run.scoring_tokens), ["every RM, resident"])
                     for m in run.reward_models]
        if any(s.peak_bytes > device.budget_bytes for s in rm_stages):
            return None
        decisions = Decisions(False, rows, checkpointing)
        return RunPlan(decisions, stages(policy_only, decisions), device, gpus=2, second_gpu=rm_stages,
                       step_seconds=step_seconds(config, run, decisions, device), steps=run_steps(config),
                       evaluation_seconds=evaluation_seconds(config, run, decisions, device), all_rows=run.largest_generation)
    return None


def refusal(config: RunConfig, run: RunShape, device: Device, offload: bool, checkpointing: bool,
            rows: int | None) -> RunPlan:
    """The most economical placement still does not fit: name its largest stage and the GiB it lacks."""
    decisions = Decisions(offload, rows or 1, checkpointing)
    planned = stages(run, decisions)
    worst = max(planned, key=lambda s: s.peak_bytes)
    missing = (worst.peak_bytes - device.budget_bytes) / GIB
    reason = (f"stage {worst.name!r} needs {worst.peak_gib:.1f} GiB even with RMs offloaded, gradient checkpointing and "
              f"{decisions.generation_rows} row(s) decoded together: {missing:.1f} GiB more than the "
              f"{device.budget_bytes / GIB:.1f} GiB usable of {device.memory_gib:g} GiB")
    return RunPlan(None, planned, device, refusal=reason)
