"""Reading the selections log (``selections.jsonl``, one record per training step) as decisions.

A per-batch method makes one decision per step: the step's ``reward_model`` labelled every prompt of the batch.
A method that routes prompts (``Method.routes_prompts``) makes one per prompt, listed in the step's ``routes``
(each with its ``reward_model``, ``category``, ``loss``, ``num_pairs`` and, when the method records one, its
``mab_reward``); the step's own ``reward_model`` is then the one most of its prompts used. Counts, utilisation
and the MAB-reward curves count decisions; selection accuracy and regret are per step (the share of the
batch's prompts labelled by their category's most competent RM, and the mean gap), so that both kinds of method
are measured on the same unit: a batch of prompts trained in one step.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

ROUTES = "routes"


def decisions(step: dict[str, Any]) -> list[dict[str, Any]]:
    """The step's decisions: itself, or one record per routed prompt (the step's fields, then the route's)."""
    if ROUTES not in step:
        return [step]
    shared = {key: value for key, value in step.items() if key != ROUTES}
    return [{**shared, **route} for route in step[ROUTES]]


def all_decisions(steps: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [decision for step in steps for decision in decisions(step)]


def most_used(labels: list[str]) -> str:
    """The label most prompts used (the first of them on a tie)."""
    counts = Counter(labels)
    top = max(counts.values())
    return next(label for label in labels if counts[label] == top)


def best_share(step: dict[str, Any]) -> float | None:
    """The share of the step's rated decisions that chose their category's most competent RM (``best_rm``, from
    the profile); None when the profile rates none of them."""
    rated = [d for d in decisions(step) if d.get("competence_gap") is not None]
    if not rated:
        return None
    return sum(d["reward_model"] == d["best_rm"] for d in rated) / len(rated)
