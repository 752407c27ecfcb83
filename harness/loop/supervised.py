"""Supervised fine-tuning on the task's human-written responses: the SFT baseline's loop (paper sec. 4,
baselines: "supervised fine-tuning on human-written responses ... without preference optimization").

It walks the same batches of training prompts as the preference loop, for the same iterations, with the same
LoRA policy, optimiser and learning rate, but trains each step on the batch's demonstrations
(``Task.demonstration``: GSM8K's worked solutions, StrategyQA's facts, the gold option of a multiple-choice
question, a WildChat conversation's first reply, the synthetic world's correct solutions) with the
length-normalised NLL. No reward model is asked and nothing is sampled; each step's record says how many
demonstrations it trained on.
"""

from __future__ import annotations

from typing import Any, Callable

from harness.common.content_cache import ContentCache
from harness.config.errors import ConfigError
from harness.config.schema import RunConfig
from harness.loop.train_step import DemonstrationTokens, DemonstrationTrainer
from harness.loop.training_loop import StageTimer, TrainingLoop
from harness.models.policy import Policy
from harness.rewards.base import RewardModel
from harness.selection.method import Method
from harness.tasks.base import Example, Splits, Task

DEMONSTRATIONS = "demonstrations"   # the "reward" of every SFT step in the selections log


def check_demonstrations(task: Task, train: list[Example], path: str) -> None:
    """A ConfigError naming the task and its data when no training example has a written response."""
    if not any(task.demonstration(e) for e in train):
        raise ConfigError(f"the SFT baseline fine-tunes on human-written responses, but no training example of task "
                          f"{task.name!r} ({path or 'hub'}) has one (e.g. a 'response' field for WildChat)")


class SupervisedLoop(TrainingLoop):
    description = "supervised fine-tuning on the task's human-written responses (the SFT baseline); no RM, no samples"

    def __init__(self, config: RunConfig, policy: Policy, task: Task, splits: Splits, pool: dict[str, RewardModel],
                 method: Method, progress: Callable[[str], None] | None = None, cache: ContentCache | None = None,
                 on_step: Callable[[dict[str, Any], dict[str, tuple[float, float]]], None] | None = None):
        super().__init__(config, policy, task, splits, pool, method, progress, cache, on_step)
        self.trainer = DemonstrationTrainer(policy, config.train)
        check_demonstrations(task, splits.train, config.task.path)

    def demonstrations(self, batch: list[Example]) -> list[DemonstrationTokens]:
        """The batch's (prompt, response + EOS) token pairs; examples without a written response are skipped."""
        kept = [(e, text) for e in batch if (text := self.task.demonstration(e))]
        if not kept:
            return []
        prompt_ids = self.policy.encode_prompts([self.task.prompt(e) for e, _ in kept])
        return [DemonstrationTokens(ids, self.policy.encode_completion(text, self.config.train.max_new_tokens))
                for ids, (_, text) in zip(prompt_ids, kept)]

    def run_step(self, iteration: int, batch_index: int, num_steps: int, batch: list[Example], timer: StageTimer) -> dict[str, Any]:
        with timer.time("demonstrations"):
            items = self.demonstrations(batch)
        loss = None
        if items:
            with timer.time("train"):
                loss = self.trainer.step(items).mean
            self.policy_updated = True
        categories = {e.category for e in batch}
        record = {"iteration": iteration, "step": self.state.global_step, "batch_index": batch_index,
                  "reward_model": DEMONSTRATIONS, "reward_models": [], "loss": loss, "num_pairs": 0,
                  "num_demonstrations": len(items), "skipped_prompts": len(batch) - len(items),
                  "sample_accuracy": None, "mean_score": None,
                  "category": next(iter(categories)) if len(categories) == 1 else None}
        if self.on_step is not None:
            self.on_step(record, {})
        self.state.global_step += 1
        return record
