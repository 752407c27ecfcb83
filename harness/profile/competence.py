"""How well a reward model separates a policy's correct responses from its incorrect ones (pure numpy/scipy).

- **pairwise accuracy**: over every (correct, incorrect) pair of responses *to the same prompt*, the share the
  RM orders correctly (a tie counts half) — what preference pairs drawn from that RM would get right;
- **AUC**: the probability that a correct response outscores an incorrect one, pooled over prompts
  (Mann-Whitney U / (n_correct n_incorrect), ties half), i.e. the RM's score as a classifier of correctness.

Confidence intervals are percentile intervals of a bootstrap over *prompts* (a prompt's samples are not
independent of each other), seeded, so a profile is reproducible.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy.stats import rankdata


@dataclass
class Competence:
    auc: float | None
    auc_ci: tuple[float, float] | None
    pairwise_accuracy: float | None
    pairwise_ci: tuple[float, float] | None
    pairs: int              # (correct, incorrect) pairs within prompts
    prompts: int            # prompts with both a correct and an incorrect response
    samples: int
    correct: int

    def to_dict(self) -> dict:
        return asdict(self)


def auc(scores: np.ndarray, correct: np.ndarray) -> float | None:
    """P(score of a correct response > score of an incorrect one), ties half; None without both kinds."""
    positives, negatives = int(correct.sum()), int((~correct).sum())
    if not positives or not negatives:
        return None
    ranks = rankdata(scores)  # average ranks: ties count half
    return float((ranks[correct].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def aucs(scores: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """``auc`` of each row of ``scores`` against the same row of ``correct`` (NaN for a row without both kinds), in
    one pass; the same numbers as ``auc`` row by row (ranks are half-integers, so their sums are exact)."""
    positives = correct.sum(axis=1)
    negatives = correct.shape[1] - positives
    ranks = rankdata(scores, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = (np.where(correct, ranks, 0.0).sum(axis=1) - positives * (positives + 1) / 2) / (positives * negatives)
    return np.where((positives > 0) & (negatives > 0), values, np.nan)


def pair_counts(scores: np.ndarray, correct: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per group (prompt): correctly ordered (correct, incorrect) pairs (ties half) and the number of pairs."""
    ids, inverse = np.unique(groups, return_inverse=True)
    right, total = np.zeros(len(ids)), np.zeros(len(ids))
    for g in range(len(ids)):
        members = inverse == g
        good, bad = scores[members & correct], scores[members & ~correct]
        if good.size and bad.size:
            difference = good[:, None] - bad[None, :]
            right[g] = (difference > 0).sum() + 0.5 * (difference == 0).sum()
            total[g] = good.size * bad.size
    return right, total


def measure(scores: Sequence[float], correct: Sequence[bool], groups: Sequence[object], resamples: int = 1000,
            seed: int = 0, level: float = 0.95) -> Competence:
    """Pairwise accuracy and AUC of ``scores`` against ``correct``, with bootstrap CIs over ``groups``."""
    scores, correct = np.asarray(scores, dtype=np.float64), np.asarray(correct, dtype=bool)
    groups = np.asarray([str(g) for g in groups])
    right, total = pair_counts(scores, correct, groups)
    pairwise = float(right.sum() / total.sum()) if total.sum() else None
    point_auc = auc(scores, correct)
    rng = np.random.default_rng(seed)
    ids, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == g) for g in range(len(ids))]
    draws = [rng.integers(len(ids), size=len(ids)) for _ in range(resamples if len(ids) > 1 else 0)]
    pair_draws = [right[drawn].sum() / total[drawn].sum() for drawn in draws if total[drawn].sum()]
    auc_draws: list[float] = []
    if point_auc is not None and draws:
        if len({len(m) for m in members}) == 1:  # every prompt has as many samples: all resamples in one matrix
            rows = np.stack(members)[np.stack(draws)].reshape(len(draws), -1)
            auc_draws = [float(v) for v in aucs(scores[rows], correct[rows]) if not np.isnan(v)]
        else:
            for drawn in draws:
                value = auc(scores[np.concatenate([members[g] for g in drawn])], correct[np.concatenate([members[g] for g in drawn])])
                if value is not None:
                    auc_draws.append(value)
    tail = 100 * (1 - level) / 2

    def interval(draws: list[float]) -> tuple[float, float] | None:
        return (float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail))) if draws else None

    return Competence(point_auc, interval(auc_draws), pairwise, interval(pair_draws), int(total.sum()),
                      int((total > 0).sum()), int(scores.size), int(correct.sum()))
