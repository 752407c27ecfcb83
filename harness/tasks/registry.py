"""Tasks by name (``task.name``): the reasoning tasks, instruction following, long context and the
synthetic world's families (which the world registers here like any other task source). A task is built from
its ``task.options`` (its ``Config``) and a ``TaskContext``: ``TASKS.build(name, options, TaskContext())``."""

from __future__ import annotations

from harness.config.registry import Registry
from harness.tasks.base import Task, TaskContext

TASKS: Registry[type[Task]] = Registry("task", {
    "strategyqa": "harness.tasks.strategyqa:StrategyQA",
    "gsm8k": "harness.tasks.gsm8k:GSM8K",
    "mmlu": "harness.tasks.mmlu:MMLU",
    "commonsenseqa": "harness.tasks.commonsenseqa:CommonsenseQA",
    "math": "harness.tasks.math_competition:MATH",
    "wildchat": "harness.tasks.wildchat:WildChat",
    "alpaca_eval": "harness.tasks.alpaca_eval:AlpacaEval",
    "longbench": "harness.tasks.longbench:LongBench",
    "synth_count": "harness.world.tasks:SynthCount",
    "synth_facts": "harness.world.tasks:SynthFacts",
    "synth_choice": "harness.world.tasks:SynthChoice",
    "synth_mix": "harness.world.tasks:SynthMix",
}, base=Task, context=TaskContext)


def get_task(name: str, options: dict | None = None) -> Task:
    """The task ``name`` with ``options`` (a run config's ``task.options``) parsed strictly; errors name them."""
    return TASKS.build(name, options or {}, TaskContext(), prefix="task.options")
