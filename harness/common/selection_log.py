"""Reading the selections log (``selections.jsonl``, one record per training step) as decisions. It sits in
``common`` because the loop writes it and the run, the trackers and the report read it (the report imports no
selection code).

A per-batch method makes one decision per step: the step's ``reward_model`` labelled every prompt of the batch.
A method that routes prompts (``Declaration.routes_prompts``) makes one per prompt, listed in the step's ``routes``
(each with its ``reward_model``, ``category``, ``loss``, ``num_pairs`` and, when the method records one, its
``mab_reward``); the step's own ``reward_model`` is then the one most of its prompts used. Counts, utilisation
and the MAB-reward curves count decisions; selection accuracy and regret are per step (the share of the
batch's prompts labelled by their category's most competent RM, and the mean gap), so that both kinds of method
are measured on the same unit: a batch of prompts trained in one step.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

import numpy as np

ROUTES = "routes"
ALL_CATEGORIES = "all"  # a profile's pooled category (and the category of a batch without one)


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


def annotate_selections(selections: list[dict[str, Any]], profile: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each decision with its category's most competent RM (by the profile's AUC) and the competence gap of the
    RM chosen (None where the choice is not one of the configured RMs, e.g. an ensemble). A routed step's
    ``routes`` are annotated one by one, and the step gets their mean gap (``harness.common.selection_log``)."""
    if not profile:
        return selections
    annotated = []
    for step in selections:
        if ROUTES in step:
            routes = [_annotate(route, profile) for route in step[ROUTES]]
            gaps = [route["competence_gap"] for route in routes if route["competence_gap"] is not None]
            annotated.append({**step, ROUTES: routes, "profile_category": _profile_category(step, profile), "best_rm": None,
                              "competence_gap": float(np.mean(gaps)) if gaps else None})
        else:
            annotated.append(_annotate(step, profile))
    return annotated


def _profile_category(decision: dict[str, Any], profile: dict[str, Any]) -> str:
    """The profile's category of a decision: its own, else the pooled one, else the profile's first."""
    for category in (decision.get("category"), ALL_CATEGORIES):
        if category in profile["categories"]:
            return category
    return next(iter(profile["categories"]))


def _annotate(decision: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    category = _profile_category(decision, profile)
    competence = {name: c["auc"] for name, c in profile["categories"][category]["reward_models"].items()
                  if name in profile["reward_models"] and c["auc"] is not None}
    best = profile["best_rm"].get(category)
    chosen = decision["reward_model"]
    gap = competence[best] - competence[chosen] if best in competence and chosen in competence else None
    return {**decision, "profile_category": category, "best_rm": best, "competence_gap": gap}


def selection_metrics(selections: list[dict[str, Any]]) -> dict[str, Any]:
    """How often the method chose its batch category's most competent RM (per step: the share of the batch's
    prompts so labelled), and its regret: the summed (and mean) competence gap over the steps whose choice the
    profile rates."""
    rated = [s for s in selections if s.get("competence_gap") is not None]
    if not rated:
        return {}
    gaps = [s["competence_gap"] for s in rated]
    return {"selection_accuracy": float(np.mean([best_share(s) for s in rated])),
            "regret": float(sum(gaps)), "mean_regret": float(np.mean(gaps)), "scored_steps": len(rated),
            "steps": len(selections)}
