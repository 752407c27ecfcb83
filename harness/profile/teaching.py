"""How much a reward model's scores could teach the policy, beside how accurate they are (pure numpy).

An accurate RM whose scores barely vary among the policy's own responses teaches slowly (Razin et al., "What
Makes a Reward Model a Good Teacher?", NeurIPS 2025, arXiv 2503.15477). Two statistics of one RM's scores on
the profile's samples, each divided by the same per-RM normaliser, the std of that RM's scores over *all* the
profile's samples (every category), so RMs on different scales compare and an affine rescaling ``a * s + b``
(``a > 0``) of one RM's scores changes neither:

- **reward_std**: per prompt, the std (``ddof=0``) of the scores of that prompt's samples, averaged over the
  prompts, divided by the normaliser;
- **mean_margin**: the mean of score(chosen) - score(rejected) over the pairs the training loop would build from
  these scores (``harness.rewards.pairs.sample_pairs``: up to ``pairs_per_prompt`` strictly ordered pairs per
  prompt, identical responses never paired), divided by the normaliser.

An RM that gives every sample the same score has a normaliser of 0: its reward_std is 0 (no spread within any
prompt either), and it builds no pair, so its mean_margin is None. Non-finite scores give None for both.
"""

from __future__ import annotations

from typing import Hashable, Sequence

import numpy as np

from harness.rewards.pairs import sample_pairs


def normaliser(scores: np.ndarray) -> float | None:
    """The std of all of one RM's scores (0.0 when they are all equal); None when some score is not finite."""
    scores = np.asarray(scores, dtype=np.float64)
    return float(np.std(scores)) if scores.size and np.isfinite(scores).all() else None


def prompt_order(groups: Sequence[Hashable]) -> tuple[list[Hashable], list[np.ndarray]]:
    """The distinct prompts in order of first appearance and the rows of each."""
    rows: dict[Hashable, list[int]] = {}
    for row, group in enumerate(groups):
        rows.setdefault(group, []).append(row)
    return list(rows), [np.asarray(members) for members in rows.values()]


def reward_std(scores: np.ndarray, groups: Sequence[Hashable], scale: float | None) -> float | None:
    """Mean over prompts of the within-prompt std of ``scores``, divided by ``scale`` (``normaliser`` of the RM)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scale is None or not scores.size or not np.isfinite(scores).all():
        return None
    if scale == 0.0:  # every score of the RM equal: no spread within a prompt either, and nothing to divide by
        return 0.0
    _, members = prompt_order(groups)
    return float(np.mean([np.std(scores[rows]) for rows in members]) / scale)


def pair_margins(scores: np.ndarray, groups: Sequence[Hashable], identities: Sequence[Hashable] | None,
                 pairs_per_prompt: int, rng: np.random.Generator) -> tuple[list[Hashable], np.ndarray]:
    """The prompt and the raw margin score(chosen) - score(rejected) of each pair ``sample_pairs`` draws from
    ``scores`` (prompts in order of first appearance); ``identities[i]`` marks sample i's duplicates."""
    scores = np.asarray(scores, dtype=np.float64)
    prompts, members = prompt_order(groups)
    per_prompt = [scores[rows].tolist() for rows in members]
    ids = [[identities[i] for i in rows] for rows in members] if identities is not None else None
    drawn = sample_pairs(per_prompt, pairs_per_prompt, rng, ids).pairs
    margins = np.asarray([per_prompt[p.prompt_index][p.chosen] - per_prompt[p.prompt_index][p.rejected] for p in drawn])
    return [prompts[p.prompt_index] for p in drawn], margins


def mean_margin(margins: np.ndarray, scale: float | None) -> float | None:
    """The mean of ``margins`` divided by ``scale``; None without a pair (a constant RM builds none)."""
    margins = np.asarray(margins, dtype=np.float64)
    if scale is None or scale == 0.0 or not margins.size:
        return None
    return float(margins.mean() / scale)
