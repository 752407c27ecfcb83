"""The reward spread of a batch: how much the reward that labelled it varies among each prompt's own samples.

After Razin et al., "What Makes a Reward Model a Good Teacher? An Optimization Perspective" (NeurIPS 2025,
arXiv 2503.15477): a reward whose values vary little among the policy's samples of one prompt teaches slowly,
however accurate it is. LASeR's ``mab_reward: reward_spread`` learns from it; it needs no gold answers and is
not the training loss.

The definition is the project's own (Razin et al. study the reward variance under the policy, not a batch
statistic): with ``scores`` a prompts x n table of one reward,

    spread = mean over prompts of std(that prompt's n scores)  /  std(all the batch's scores)

both standard deviations taken over the population (ddof 0). It is unchanged by any affine rescaling
``a * score + b`` with a != 0, so RMs on different scales compare, and it lies in [0, 1]: the mean within-prompt
std is at most the root of the mean within-prompt variance, which is at most the total variance (the total is
within plus between prompts). 1: the scores vary only within prompts; 0: only between prompts (or not at all).
A batch whose scores are all equal has no spread: 0.0, said so explicitly rather than dividing by zero.
"""

from __future__ import annotations

import numpy as np


def reward_spread(scores: np.ndarray) -> float:
    """The scale-free reward spread of a prompts x n score table (see the module docstring)."""
    table = np.asarray(scores, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] < 1:
        raise ValueError(f"reward_spread: expected a prompts x samples table of scores, got shape {table.shape}")
    if not np.isfinite(table).all():
        raise ValueError("reward_spread: the scores contain NaN or infinite values")
    if np.ptp(table) == 0.0:  # every score equal: no spread at all (and nothing to divide by)
        return 0.0
    unit = (table - table.mean()) / np.ptp(table)  # the same spread (affine invariance), on a range of 1: its
    within = float(np.mean(np.std(unit, axis=1)))   # std is at least 1 / sqrt(2 * size), never zero
    total = float(np.std(unit))
    return min(1.0, within / total)  # <= 1 exactly; min() only absorbs rounding
