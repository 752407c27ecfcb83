"""LASeR with best-of-n sampling (paper sec. 3.3): RM selection at inference time, no policy training.

On the train split, for each batch the method picks a reward model, the policy samples n responses per
prompt, the chosen RM picks the best response of each prompt, and the method learns from the MAB reward:
the negative, length-normalised NLL of the picked responses under the policy (the NLL term of the
training loss, eq. 1, on the would-be preferred responses), quantile-scaled by the method as in training.
``best_of_n.reward: gold`` uses the task's gold score of the picked responses instead (beyond the paper).
A method that declares ``reward_spread`` (LASeR's ``mab_reward: reward_spread``) gets the chosen RM's spread on
the batch's samples, as in training.
The bandit is then frozen and applied to the test split, batched by category like training: per batch
it picks the RM that reranks the n samples, and the picked response is scored (F1 / ROUGE-L).

Since the policy never changes, its samples and the RMs' scores are identical across methods and go
through the sweep's shared cache: a sweep samples and scores each batch once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.common.seeding import stable_seed
from harness.loop.evaluation import example_record, summarise
from harness.loop.reward_spread import reward_spread
from harness.loop.training_loop import StageTimer, TrainingLoop, category_batches
from harness.rewards.scoring import sequence_logps
from harness.selection.method import StepFeedback
from harness.tasks.base import Example


def best_indices(scores: np.ndarray) -> np.ndarray:
    """Per prompt (row), the sample with the highest score (the first one on ties)."""
    return np.asarray(scores).argmax(axis=1)


class BestOfNLoop(TrainingLoop):
    """The bandit learns on the train split; ``evaluate_test`` applies it, frozen, to the test split."""

    description = "best-of-n (paper sec. 3.3): the method learns which RM reranks n samples best; the policy never trains"
    trains_policy = False

    def mean_nll(self, prompt_ids: list[list[int]], responses: list[list[int]]) -> float:
        """Mean over prompts of -log pi(y|x) / |y| for the picked responses (empty responses are skipped)."""
        keep = [i for i, r in enumerate(responses) if r]
        if not keep:
            return 0.0
        longest = max(len(prompt_ids[i]) + len(responses[i]) for i in keep)
        sums, counts = sequence_logps(self.policy.model, self.policy.tokenizer.pad_token_id, [prompt_ids[i] for i in keep],
                                      [responses[i] for i in keep], batch_tokens=self.config.train.micro_batch_size * longest)
        return float(np.mean(-sums / counts))

    def run_step(self, iteration: int, batch_index: int, num_steps: int, batch: list[Example], timer: StageTimer) -> dict[str, Any]:
        scored = self.choose_and_sample(batch, iteration, batch_index, num_steps, timer)
        best = best_indices(scored.scores)
        picked = [group[i] for group, i in zip(scored.samples, best)]
        with timer.time("bandit_reward"):
            gold = [self.task.score(s.text, e) for s, e in zip(picked, batch)]
            if self.config.best_of_n.reward == "gold":
                loss = -float(np.mean(gold))
            else:
                loss = self.mean_nll(scored.prompt_ids, [s.completion_ids for s in picked])
        spread = reward_spread(scored.scores) if self.method.declared.reward_spread else None
        with timer.time("bandit"):
            self.method.feedback(scored.context, scored.choice, StepFeedback(loss, 0, 0, reward_spread=spread))
        record = {"iteration": iteration, "step": self.state.global_step, "batch_index": batch_index,
                  "reward_model": scored.choice.label, "reward_models": list(scored.choice.reward_models), "loss": loss,
                  "num_pairs": 0, "skipped_prompts": 0, "sample_accuracy": self.sample_quality(batch, scored.samples),
                  "best_of_n_score": float(np.mean(gold)), "mean_score": float(np.mean(scored.scores)),
                  "category": scored.context.category, "split": "train", **self.method.step_record()}
        if spread is not None:
            record["reward_spread"] = spread
        if self.on_step is not None:
            self.on_step(record, scored.score_stats)
        self.state.global_step += 1
        return record

    def run_iteration(self, iteration: int) -> dict[str, Any]:
        row = super().run_iteration(iteration)
        scores = [r["best_of_n_score"] for r in self.state.selections if r["iteration"] == iteration]
        row["train_best_of_n_score"] = float(np.mean(scores)) if scores else None
        return row

    def dev_result(self) -> float:
        """The frozen method's best-of-n score on the dev split (how the paper validates the bandit)."""
        result, _ = self.evaluate_test(self.splits.dev, limit=self.config.eval.max_dev_examples, split="dev")
        return result["score"]

    def evaluate_test(self, examples: list[Example], limit: int | None = None,
                      split: str = "test") -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The frozen method reranks n test samples per prompt; returns the summary (with records) and the
        per-batch test selections (for utilisation per category, paper Fig. 7)."""
        examples = examples[:limit] if limit is not None else examples
        cfg = self.config.train
        rng = np.random.default_rng(stable_seed(self.config.seed, f"{split}_batches"))
        batches = category_batches(examples, cfg.batch_size, rng, self.task.groups_by_category(self.config.task))
        timer, records, selections = StageTimer(), [], []
        for index, batch in enumerate(batches):
            # the same seed for every method, so every method reranks the same n samples
            seed = stable_seed(self.config.seed, f"{split}_samples", index)
            scored = self.choose_and_sample(batch, cfg.iterations + 1, index, len(batches), timer, sample_seed=seed)
            for example, group, row, i in zip(batch, scored.samples, scored.scores, best_indices(scored.scores)):
                records.append({**example_record(self.task, example, group[i].text), "reward_model": scored.choice.label,
                                "picked": int(i), "candidate_rewards": [float(v) for v in row],
                                "candidate_scores": [self.task.score(s.text, example) for s in group]})
            selections.append({"split": split, "batch_index": index, "category": scored.context.category,
                               "reward_model": scored.choice.label, "reward_models": list(scored.choice.reward_models)})
            self.progress(f"{split} batch {index + 1}/{len(batches)} ({scored.context.category}) rm={scored.choice.label}")
        result = summarise(self.task, records)
        result["seconds"] = {stage: round(value, 4) for stage, value in timer.seconds.items()}
        return result, selections
