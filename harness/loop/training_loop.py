"""The iterative preference-training loop (paper Algorithm 1) shared by every method.

For each iteration m = 1..M: the reference becomes pi_{m-1}; for each batch of training prompts the
method picks the reward (LASeR: its bandit, given the batch's mean prompt embedding), the policy samples
n responses per prompt in one batched call, the chosen RM(s) score them, P strictly ordered pairs per
prompt train the policy for one step, and the method gets the step's loss as feedback. Dev accuracy is
measured after each iteration. Every stage is timed.

The loops (this one, ``supervised.py`` and ``best_of_n.py``) are the registry ``harness.loop.registry.LOOPS``,
each built from a ``LoopContext`` (what the run hands the loop) through ``from_config``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterator, Sequence

import numpy as np
import torch

from harness.common.content_cache import ContentCache, content_key
from harness.common.seeding import stable_seed
from harness.common.selection_log import ROUTES, all_decisions, most_used
from harness.config.registry import NoArgs
from harness.config.schema import RunConfig
from harness.loop.evaluation import evaluate
from harness.loop.reward_spread import reward_spread
from harness.loop.train_step import PairTokens, PreferenceTrainer
from harness.models.policy import Policy, Sample
from harness.rewards.base import RewardModel
from harness.rewards.pairs import sample_pairs
from harness.selection.combiners import admissible_groups, combine_groups
from harness.selection.method import BatchContext, Method, RewardChoice, StepFeedback
from harness.tasks.base import Example, Splits, Task

log = logging.getLogger(__name__)


def score_table(choice: RewardChoice, pool: dict[str, RewardModel], prompts: Sequence[str],
                responses: Sequence[str], references: Sequence[Any]) -> dict[str, np.ndarray]:
    """Raw scores of every RM the choice names."""
    table = {}
    for name in choice.reward_models:
        rm = pool[name]
        table[name] = np.asarray(rm.score(prompts, responses, references if rm.needs_references else None), dtype=np.float64)
    return table


def combine_scores(choice: RewardChoice, table: dict[str, np.ndarray], group_size: int) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """One score per response from the chosen RMs' scores (responses in prompt groups of ``group_size``), by
    the choice's combiner, and per prompt group the pairs it admits (None: every ordered pair)."""
    combiner = choice.combiner()
    scores = np.stack([np.asarray(table[name]) for name in choice.reward_models], axis=1)
    return combine_groups(combiner, scores, group_size), admissible_groups(combiner, scores, group_size)


@dataclass
class StageTimer:
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start


@dataclass
class Scored:
    """A batch after the method chose its reward: samples and their scores (prompts x n)."""

    prompt_ids: list[list[int]]
    context: BatchContext
    choice: RewardChoice | None          # None when the method routed each prompt (``choices``)
    samples: list[list[Sample]]
    table: dict[str, np.ndarray]
    scores: np.ndarray
    choices: list[RewardChoice] = field(default_factory=list)  # per prompt (a per-batch method's choice repeated)
    score_stats: dict[str, tuple[float, float]] = field(default_factory=dict)  # per RM: mean, std of its raw scores
    allowed: list[np.ndarray | None] = field(default_factory=list)  # per prompt: the pairs its combiner admits


@dataclass
class TrainingState:
    """Everything the loop produces; also what a checkpoint restores."""

    iterations: list[dict[str, Any]] = field(default_factory=list)
    selections: list[dict[str, Any]] = field(default_factory=list)
    rm_scores: list[dict[str, Any]] = field(default_factory=list)   # per-response scores when several RMs scored a step
    global_step: int = 0


@dataclass
class LoopContext:
    """What a loop is built from: the run's config, policy, task and splits, RM pool and method, and the run's
    progress line, shared cache and per-step callback (e.g. its trackers)."""

    config: RunConfig
    policy: Policy
    task: Task
    splits: Splits
    pool: dict[str, RewardModel]
    method: Method
    progress: Callable[[str], None] | None = None
    cache: ContentCache | None = None
    on_step: Callable[[dict[str, Any], dict[str, tuple[float, float]]], None] | None = None


class TrainingLoop:
    Config: ClassVar[type] = NoArgs
    description: ClassVar[str] = ("iterative preference training (Algorithm 1): the method's RM scores n samples per "
                                  "prompt, pairs train the policy")
    trains_policy = True   # best-of-n selection (harness.loop.best_of_n) never changes the policy

    @classmethod
    def from_config(cls, config: Any, context: LoopContext) -> TrainingLoop:
        return cls(context.config, context.policy, context.task, context.splits, context.pool, context.method,
                   progress=context.progress, cache=context.cache, on_step=context.on_step)

    def __init__(self, config: RunConfig, policy: Policy, task: Task, splits: Splits, pool: dict[str, RewardModel],
                 method: Method, progress: Callable[[str], None] | None = None,
                 cache: ContentCache | None = None,
                 on_step: Callable[[dict[str, Any], dict[str, tuple[float, float]]], None] | None = None):
        self.config, self.policy, self.task, self.splits = config, policy, task, splits
        self.pool, self.method = pool, method
        self.trainer = PreferenceTrainer(policy, config.train)
        self.state = TrainingState()
        self.progress = progress or (lambda message: None)
        self.cache = cache
        self.policy_updated = False  # until the first optimisation step the policy is the initial one
        self.on_step = on_step  # e.g. the run's trackers: each step's record and its RMs' score statistics

    def state_dict(self, iteration: int) -> dict[str, Any]:
        """Everything a resumed run needs after ``iteration``: adapter, optimizer, method, RM and RNG states."""
        return {
            "iteration": iteration,
            "adapter": self.policy.adapter_state(),
            "optimizer": self.trainer.optimizer.state_dict(),
            "method": self.method.state_dict(),
            "reward_models": {name: rm.state_dict() for name, rm in self.pool.items()},
            "loop": {"iterations": self.state.iterations, "selections": self.state.selections,
                     "rm_scores": self.state.rm_scores, "global_step": self.state.global_step},
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> int:
        """Restore a ``state_dict`` into this freshly built loop; returns the last completed iteration."""
        self.policy.load_adapter_state(state["adapter"])
        self.trainer.optimizer.load_state_dict(state["optimizer"])
        self.method.load_state_dict(state["method"])
        for name, rm_state in state["reward_models"].items():
            self.pool[name].load_state_dict(rm_state)
        self.state = TrainingState(**state["loop"])
        self.policy_updated = self.trains_policy and any(step["loss"] is not None for step in self.state.selections)
        torch.set_rng_state(state["torch_rng"])
        return int(state["iteration"])

    def sample(self, prompt_ids: list[list[int]], seed: int | None = None) -> list[list[Sample]]:
        """n samples per prompt, seeded by the current step unless a seed is given; while the policy is
        still the initial one, they are shared with other runs through the cache."""
        cfg = self.config.train
        seed = stable_seed(self.config.seed, "sample", self.state.global_step) if seed is None else seed
        n = cfg.num_samples
        settings = dict(do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens, seed=seed)
        if self.cache is None or self.policy_updated:
            return self.policy.generate(prompt_ids, n, **settings)
        key = content_key("samples-with-eos", self.policy.identity, prompt_ids, n, settings)
        cached = self.cache.get(key)
        if cached is not None:
            return [[self.policy.sample_of(ids) for ids in group] for group in cached]
        samples = self.policy.generate(prompt_ids, n, **settings)
        self.cache.put(key, [[s.completion_ids for s in group] for group in samples])
        return samples

    def batches(self, iteration: int) -> list[list[Example]]:
        """The iteration's batches: a seeded shuffle of the train split, or, for tasks batched by category,
        batches of one category each (shuffled within and across categories)."""
        rng = np.random.default_rng(stable_seed(self.config.seed, "batches", iteration))
        batches = category_batches(self.splits.train, self.config.train.batch_size, rng,
                                   self.task.groups_by_category(self.config.task))
        limit = self.config.train.max_steps_per_iteration
        return batches[:limit] if limit is not None else batches

    def choose_and_sample(self, batch: list[Example], iteration: int, batch_index: int, num_steps: int,
                          timer: StageTimer, sample_seed: int | None = None) -> Scored:
        """The method's choice for a batch (or, for a method that routes prompts, for each prompt), n samples per
        prompt, and the chosen RM(s)' scores (prompts x n)."""
        prompts = [self.task.prompt(e) for e in batch]
        prompt_ids = self.policy.encode_prompts(prompts)
        context = BatchContext(iteration, self.state.global_step, batch_index, num_steps, prompts,
                               category=batch[0].category if len({e.category for e in batch}) == 1 else None,
                               categories=[e.category for e in batch])
        routes = self.method.declared.routes_prompts
        if self.method.declared.needs_context:
            with timer.time("embed"):
                embeddings = self.policy.embed(prompt_ids)
                context.embedding = embeddings.mean(axis=0)
                if routes:
                    context.prompt_embeddings = embeddings
        with timer.time("select"):
            if routes:
                choices = list(self.method.route(context))
                if len(choices) != len(batch):
                    raise ValueError(f"method {self.config.method.name!r} routed {len(choices)} prompts of a batch of {len(batch)}")
                choice = None
            else:
                choice = self.method.select(context)
                choices = [choice] * len(batch)
        with timer.time("sample"):
            samples = self.sample(prompt_ids, sample_seed)
        with timer.time("score"):  # each group of prompts that share a choice is scored by its RM(s): one group per batch
            n = len(samples[0])          # for a per-batch method, one per distinct choice for a router
            groups = choice_groups(choices)
            scores, raw = np.zeros((len(batch), n)), defaultdict(list)
            allowed: list[np.ndarray | None] = [None] * len(batch)
            for indices in groups:
                part = score_table(choices[indices[0]], self.pool, *self.flat_inputs(batch, prompts, samples, indices))
                combined, masks = combine_scores(choices[indices[0]], part, n)
                scores[indices] = combined.reshape(len(indices), n)
                for index, mask in zip(indices, masks):
                    allowed[index] = mask
                for name, values in part.items():
                    raw[name].append(values)
            table = part if len(groups) == 1 else {}  # the same responses scored by every RM: for RM agreement
        stats = {name: (float(np.mean(np.concatenate(parts))), float(np.std(np.concatenate(parts)))) for name, parts in raw.items()}
        return Scored(prompt_ids, context, choice, samples, table, scores, choices, stats, allowed)

    @staticmethod
    def flat_inputs(batch: list[Example], prompts: list[str], samples: list[list[Sample]],
                    indices) -> tuple[list[str], list[str], list[Example]]:
        """(prompt, response, example) per sample of the prompts at ``indices``, prompt by prompt."""
        flat_prompts = [prompts[i] for i in indices for _ in samples[i]]
        flat_texts = [s.text for i in indices for s in samples[i]]
        flat_refs = [batch[i] for i in indices for _ in samples[i]]
        return flat_prompts, flat_texts, flat_refs

    def sample_quality(self, batch: list[Example], samples: list[list[Sample]]) -> float | None:
        """Mean gold score of the samples (accuracy, or F1 / ROUGE-L); None for open-ended tasks."""
        if self.task.kind == "open_ended":
            return None
        return float(np.mean([self.task.score(s.text, e) for e, group in zip(batch, samples) for s in group]))

    def run_step(self, iteration: int, batch_index: int, num_steps: int, batch: list[Example], timer: StageTimer) -> dict[str, Any]:
        cfg = self.config.train
        scored = self.choose_and_sample(batch, iteration, batch_index, num_steps, timer)
        prompt_ids, context, choice, samples, scores = scored.prompt_ids, scored.context, scored.choice, scored.samples, scored.scores
        if len(scored.table) > 1:  # kept for the RM agreement analysis (paper fig. 5)
            self.state.rm_scores.append({"step": self.state.global_step, "num_samples": cfg.num_samples, "category": context.category,
                                         "scores": {name: values.tolist() for name, values in scored.table.items()}})
        with timer.time("pairs"):
            rng = np.random.default_rng(stable_seed(self.config.seed, "pairs", self.state.global_step))
            identities = [[tuple(s.token_ids) for s in group] for group in samples]
            pair_set = sample_pairs(scores.tolist(), cfg.pairs_per_prompt, rng, identities, scored.allowed)
            items = [PairTokens(prompt_ids[p.prompt_index], samples[p.prompt_index][p.chosen].completion_ids,
                                samples[p.prompt_index][p.rejected].completion_ids) for p in pair_set.pairs]
        loss, pair_losses = None, []
        if items:
            with timer.time("train"):
                result = self.trainer.step(items)
            loss, pair_losses = result.mean, result.per_pair
            self.policy_updated = True
        prompt_losses, prompt_pairs = per_prompt(len(batch), [p.prompt_index for p in pair_set.pairs], pair_losses)
        sample_accuracy, accuracy_after = self.sample_quality(batch, samples), None
        if self.method.declared.accuracy_after and items:  # fresh samples of the updated policy, same prompts
            with timer.time("sample"):
                after = self.sample(prompt_ids, stable_seed(self.config.seed, "sample-after", self.state.global_step))
            accuracy_after = self.sample_quality(batch, after)
        spread = reward_spread(scores) if self.method.declared.reward_spread else None  # of the reward that made the pairs
        with timer.time("bandit"):
            feedback = StepFeedback(loss, len(items), pair_set.skipped_prompts, prompt_losses, prompt_pairs,
                                    sample_accuracy, accuracy_after, spread)
            if self.method.declared.routes_prompts:
                self.method.route_feedback(context, scored.choices, feedback)
            else:
                self.method.feedback(context, choice, feedback)
        labels = [c.label for c in scored.choices]
        record = {"iteration": iteration, "step": self.state.global_step, "batch_index": batch_index,
                  "reward_model": most_used(labels),  # a per-batch method's one choice
                  "reward_models": list(dict.fromkeys(name for c in scored.choices for name in c.reward_models)), "loss": loss,
                  "num_pairs": len(items), "skipped_prompts": pair_set.skipped_prompts,
                  "sample_accuracy": sample_accuracy, "mean_score": float(np.mean(scores)),
                  "category": context.category, **self.method.step_record()}
        if accuracy_after is not None:
            record["accuracy_after"] = accuracy_after
        if spread is not None:  # the raw value, beside the scaled mab_reward
            record["reward_spread"] = spread
        if self.method.declared.routes_prompts:
            extra = self.method.route_records() or [{} for _ in batch]
            record[ROUTES] = [{"prompt": i, "reward_model": label, "category": example.category, "loss": prompt_losses[i],
                               "num_pairs": prompt_pairs[i], **extra[i]}
                              for i, (label, example) in enumerate(zip(labels, batch))]
        if self.on_step is not None:
            self.on_step(record, scored.score_stats)
        self.state.global_step += 1
        return record

    def dev_result(self) -> float:
        """The policy's dev accuracy (or mean graded score) after an iteration."""
        dev = evaluate(self.policy, self.task, self.splits.dev, self.config.eval, stable_seed(self.config.seed, "dev"),
                       limit=self.config.eval.max_dev_examples)
        return dev.get("accuracy", dev.get("score"))

    def run_iteration(self, iteration: int) -> dict[str, Any]:
        timer = StageTimer()
        self.policy.snapshot_reference()
        batches = self.batches(iteration)
        records = []
        for batch_index, batch in enumerate(batches):
            record = self.run_step(iteration, batch_index, len(batches), batch, timer)
            records.append(record)
            self.progress(f"iteration {iteration}/{self.config.train.iterations} step {batch_index + 1}/{len(batches)} "
                          f"rm={record['reward_model']} loss={record['loss'] if record['loss'] is None else round(record['loss'], 4)}")
        self.state.selections.extend(records)
        losses = [r["loss"] for r in records if r["loss"] is not None]
        row = {"iteration": iteration, "steps": len(records),
               "train_loss": float(np.mean(losses)) if losses else None,
               "pairs": sum(r["num_pairs"] for r in records),
               "skipped_prompts": sum(r["skipped_prompts"] for r in records),
               "sample_accuracy": _mean([r["sample_accuracy"] for r in records]),
               "selected": dict(sorted(_count(d["reward_model"] for d in all_decisions(records)).items()))}
        if self.config.eval.dev_every_iteration and self.splits.dev and self.task.kind != "open_ended":
            with timer.time("dev_eval"):
                row["dev_accuracy"] = self.dev_result()
        row["seconds"] = {stage: round(value, 4) for stage, value in timer.seconds.items()}
        self.state.iterations.append(row)
        return row


def _mean(values) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def category_batches(examples: Sequence[Example], size: int, rng: np.random.Generator, by_category: bool) -> list[list[Example]]:
    if not by_category:
        order = rng.permutation(len(examples))
        return [[examples[i] for i in order[start:start + size]] for start in range(0, len(order), size)]
    batches = []
    for category in sorted({e.category or "" for e in examples}):
        members = [e for e in examples if (e.category or "") == category]
        order = rng.permutation(len(members))
        batches += [[members[i] for i in order[start:start + size]] for start in range(0, len(order), size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def choice_groups(choices: Sequence[RewardChoice]) -> list[list[int]]:
    """The indices of the prompts that share a choice (same RMs, combiner and settings), in order of first use."""
    groups: dict[str, list[int]] = {}
    for index, choice in enumerate(choices):
        groups.setdefault(repr((choice.reward_models, choice.combine, sorted(choice.combine_args.items()))), []).append(index)
    return list(groups.values())


def per_prompt(num_prompts: int, pair_prompts: Sequence[int], pair_losses: Sequence[float]) -> tuple[list[float | None], list[int]]:
    """Each prompt's mean pair loss (None for a prompt without pairs, or when no step was taken) and its pair count."""
    losses: list[list[float]] = [[] for _ in range(num_prompts)]
    pairs = [0] * num_prompts
    for index, prompt in enumerate(pair_prompts):
        pairs[prompt] += 1
        if index < len(pair_losses):
            losses[prompt].append(pair_losses[index])
    return [float(np.mean(values)) if values else None for values in losses], pairs


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return counts
