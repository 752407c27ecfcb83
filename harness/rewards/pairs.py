"""Preference pairs from scored responses (paper sec. 3.1 and footnote 2).

For each prompt, every (i, j) with score_i strictly greater than score_j is a candidate pair; P of them
are drawn uniformly without replacement (all of them when fewer exist). Ties never make a pair, nor do
two identical responses, nor a pair the reward's combiner does not admit (``allowed``; e.g. one its RMs
disagree on). A prompt with no candidate pair is skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np


@dataclass(frozen=True)
class PreferencePair:
    prompt_index: int
    chosen: int
    rejected: int


@dataclass
class PairSet:
    pairs: list[PreferencePair]
    skipped_prompts: int


def sample_pairs(scores: Sequence[Sequence[float]], pairs_per_prompt: int, rng: np.random.Generator,
                 identities: Sequence[Sequence[Hashable]] | None = None,
                 allowed: Sequence[np.ndarray | None] | None = None) -> PairSet:
    """Draw up to ``pairs_per_prompt`` strictly ordered pairs per prompt.

    ``identities[i][j]`` (e.g. the token ids of response j as a tuple) marks duplicates: two responses
    with the same identity never form a pair even if a noisy RM scores them differently. ``allowed[i]``
    (responses x responses, or None) is True where response j may be chosen over response k of prompt i.
    """
    if pairs_per_prompt < 1:
        raise ValueError(f"pairs_per_prompt must be >= 1, got {pairs_per_prompt}")
    pairs: list[PreferencePair] = []
    skipped = 0
    for prompt_index, prompt_scores in enumerate(scores):
        values = np.asarray(prompt_scores, dtype=np.float64)
        if np.isnan(values).any():
            raise ValueError(f"prompt {prompt_index}: reward scores contain NaN")
        ids = identities[prompt_index] if identities is not None else None
        mask = allowed[prompt_index] if allowed is not None else None
        candidates = [
            (i, j)
            for i in range(len(values))
            for j in range(len(values))
            if values[i] > values[j] and (ids is None or ids[i] != ids[j]) and (mask is None or mask[i, j])
        ]
        if not candidates:
            skipped += 1
            continue
        take = min(pairs_per_prompt, len(candidates))
        chosen = rng.choice(len(candidates), size=take, replace=False)
        pairs.extend(PreferencePair(prompt_index, *candidates[k]) for k in sorted(chosen.tolist()))
    return PairSet(pairs, skipped)
