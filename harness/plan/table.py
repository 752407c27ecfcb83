"""The plan as people read it: one table per distinct run plan (runs that differ only in their seed, or in
nothing the memory depends on, share one), then the sweep's GPU hours."""

from __future__ import annotations

from dataclasses import dataclass

from harness.plan.estimate import GIB
from harness.plan.placement import RunPlan


@dataclass
class PlannedRuns:
    """Runs that share one plan: their ids and the plan."""

    run_ids: list[str]
    plan: RunPlan


def _decisions_line(plan: RunPlan) -> str:
    if plan.decisions is None:
        return "placement: none fits"
    d = plan.decisions
    rms = "offloaded to pinned CPU memory, moved in to score" if d.offload_reward_models else "resident"
    if plan.gpus == 2:
        rms = "resident on a second GPU"
    return (f"placement: RMs {rms}; {d.generation_rows} rows decoded together; gradient checkpointing "
            f"{'on' if d.gradient_checkpointing else 'off'}")


def format_run_plan(group: PlannedRuns) -> str:
    plan = group.plan
    budget = plan.device.budget_bytes / GIB
    shown = ", ".join(group.run_ids[:3]) + (f" (+{len(group.run_ids) - 3} more)" if len(group.run_ids) > 3 else "")
    lines = [f"== {shown}", f"   {plan.device.memory_gib:g} GiB GPU ({budget:.1f} GiB usable) x {plan.gpus}; {_decisions_line(plan)}",
             f"   {'stage':<28s} {'peak GiB':>9s}  {'fits':<4s} on the GPU"]
    for label, stages in (("", plan.stages), ("GPU 2: ", plan.second_gpu)):
        for stage in stages:
            fits = "yes" if stage.peak_bytes <= plan.device.budget_bytes else "no"
            lines.append(f"   {(label + stage.name)[:28]:<28s} {stage.peak_gib:9.1f}  {fits:<4s} {'; '.join(stage.on_gpu)}")
    if plan.step_seconds:
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in plan.step_seconds.items())
        lines.append(f"   one step: {parts} (total {sum(plan.step_seconds.values()):.1f} s)")
    hours = plan.hours
    lines.append(f"   run: {plan.steps if plan.steps is not None else '?'} steps, "
                 f"{f'{hours:.1f} GPU hours' if hours is not None else 'hours unknown (no split_sizes in the config)'}"
                 f"{' x 2 GPUs' if plan.gpus == 2 else ''}")
    if plan.refusal:
        lines.append(f"   REFUSED: {plan.refusal}")
    return "\n".join(lines)


def format_summary(groups: list[PlannedRuns], gpus: int) -> str:
    runs = sum(len(g.run_ids) for g in groups)
    refused = [g for g in groups if not g.plan.fits]
    known = [g for g in groups if g.plan.hours is not None and g.plan.fits]
    gpu_hours = sum(g.plan.hours * g.plan.gpus * len(g.run_ids) for g in known)
    lines = [f"{runs} runs in {len(groups)} distinct plans; {len(refused)} refused"]
    if known:
        wall = gpu_hours / gpus
        unknown = len(groups) - len(known) - len(refused)
        lines.append(f"sweep: {gpu_hours:,.0f} GPU hours; on {gpus} GPU{'s' if gpus > 1 else ''} about "
                     f"{wall:,.0f} hours ({wall / 24:,.1f} days) of wall time" +
                     (f"; {unknown} plans without an estimate" if unknown else ""))
        lines.append("time model: matrix products at 40% of the GPU's bf16 peak, decoding at 60% of its memory bandwidth, "
                     "prompts and responses at their caps (an upper bound); see harness/plan/placement.py")
    if refused:
        lines.append(f"refused: {refused[0].run_ids[0]}: {refused[0].plan.refusal}")
    return "\n".join(lines)

