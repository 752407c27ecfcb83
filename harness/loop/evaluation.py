"""A policy's test (or dev) result on a task split: greedy decoding by default, or a majority vote over n samples.

A majority vote also records, per example, the share of its n samples whose own extracted answer is right, and the
split's ``sample_accuracy`` (their mean; ``sample_accuracies`` per category beside ``accuracies``): the accuracy of
one sample at that temperature, against the vote's. Greedy results carry neither.

What is measured follows the task's kind: accuracy of extracted answers; the mean graded score per
category (LongBench F1 / ROUGE-L); or, for open-ended tasks, only the outputs, in AlpacaEval's
``model_outputs`` format, for a judge to compare pairwise later (``harness.sweep.comparisons``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import numpy as np

from harness.common.content_cache import ContentCache, content_key
from harness.config.schema import EvalConfig
from harness.models.policy import Policy, Sample
from harness.tasks.base import Example, Task


def majority_answer(task: Task, answers: Sequence[str | None]) -> str | None:
    """The most frequent extracted answer (by canonical key; the first seen wins ties), None if none."""
    keyed = [(task.answer_key(a), a) for a in answers if a is not None]
    if not keyed:
        return None
    counts = Counter(key for key, _ in keyed)
    best = max(counts.values())
    for key, answer in keyed:
        if counts[key] == best:
            return answer
    return None


def _greedy_with_cache(policy: Policy, prompt_ids: list[list[int]], max_new_tokens: int, cache: ContentCache) -> list[list[Sample]]:
    """Greedy responses of the initial policy, shared through the cache (e.g. the base row across seeds)."""
    keys = [content_key("greedy-with-eos", policy.identity, ids, max_new_tokens) for ids in prompt_ids]
    found = cache.get_many(keys)
    missing = [i for i, key in enumerate(keys) if key not in found]
    if missing:
        outputs = policy.generate([prompt_ids[i] for i in missing], 1, do_sample=False, max_new_tokens=max_new_tokens)
        new = {keys[i]: out[0].completion_ids for i, out in zip(missing, outputs)}
        cache.put_many(new)
        found.update(new)
    return [[policy.sample_of(found[key])] for key in keys]


def evaluate(policy: Policy, task: Task, examples: Sequence[Example], config: EvalConfig, seed: int,
             limit: int | None = None, progress=None, cache: ContentCache | None = None) -> dict[str, Any]:
    """{"accuracy", "num_examples", "records"}; records hold each prediction for per-example statistics.
    ``cache`` (only for the initial, untrained policy) shares greedy generations between runs."""
    examples = list(examples)[:limit] if limit is not None else list(examples)
    if not examples:
        raise ValueError(f"no examples to evaluate on task {task.name!r}")
    records = []
    for start in range(0, len(examples), config.batch_size):
        chunk = examples[start:start + config.batch_size]
        prompt_ids = policy.encode_prompts([task.prompt(e) for e in chunk])
        if config.decoding == "greedy" and cache is not None:
            outputs = _greedy_with_cache(policy, prompt_ids, config.max_new_tokens, cache)
        elif config.decoding == "greedy":
            outputs = policy.generate(prompt_ids, 1, do_sample=False, max_new_tokens=config.max_new_tokens)
        else:
            outputs = policy.generate(prompt_ids, config.num_samples, do_sample=True, temperature=config.temperature,
                                      max_new_tokens=config.max_new_tokens, seed=seed + start)
        for example, samples in zip(chunk, outputs):
            if task.kind != "accuracy":  # greedy only (validation refuses a majority vote here)
                records.append(example_record(task, example, samples[0].text))
                continue
            answers = [task.extract_answer(s.text, example) for s in samples]
            answer = answers[0] if config.decoding == "greedy" else majority_answer(task, answers)
            record = {"id": example.id, "gold": example.gold, "prediction": answer,
                      "correct": task.matches(answer, example), "category": example.category,
                      "response": samples[0].text}
            if config.decoding == "majority":  # each sample's own answer too: the share of them that is right
                record["sample_accuracy"] = float(np.mean([task.matches(a, example) for a in answers]))
            records.append(record)
        if progress is not None:
            progress(len(records), len(examples))
    return summarise(task, records)


def example_record(task: Task, example: Example, response: str) -> dict[str, Any]:
    """One prediction of a scored or open-ended task (open-ended: an AlpacaEval ``model_outputs`` row)."""
    if task.kind == "open_ended":
        record = {"id": example.id, "instruction": example.question, "output": response, "category": example.category,
                  "dataset": task.name}
        if "index" in example.meta:  # position in AlpacaEval's set, for its length-controlled GLM
            record["index"] = example.meta["index"]
        return record
    return {"id": example.id, "category": example.category, "response": response,
            "prediction": task.extract_answer(response, example), "score": task.score(response, example)}


def summarise(task: Task, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The split's result from its per-example records."""
    result: dict[str, Any] = {"num_examples": len(records), "records": records}
    if task.kind == "accuracy":
        result["accuracy"] = sum(r["correct"] for r in records) / len(records)
        categories = sorted({r["category"] for r in records if r.get("category")})
        if len(categories) > 1:  # a mixed task: each category's accuracy too
            result["accuracies"] = {c: float(np.mean([r["correct"] for r in records if r.get("category") == c]))
                                    for c in categories}
        if records and all("sample_accuracy" in r for r in records):  # a majority vote: its single samples' accuracy
            result["sample_accuracy"] = float(np.mean([r["sample_accuracy"] for r in records]))
            if "accuracies" in result:
                result["sample_accuracies"] = {c: float(np.mean([r["sample_accuracy"] for r in records
                                                                 if r.get("category") == c])) for c in categories}
    elif task.kind == "scored":
        categories = sorted({r["category"] for r in records})
        result["scores"] = {c: float(np.mean([r["score"] for r in records if r["category"] == c])) for c in categories}
        result["metrics"] = {c: task.metric_name(c) for c in categories}
        result["score"] = float(np.mean(list(result["scores"].values())))
    else:
        result["mean_output_chars"] = float(np.mean([len(r["output"]) for r in records]))
    return result
