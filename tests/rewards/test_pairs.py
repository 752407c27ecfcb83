from __future__ import annotations

import numpy as np
import pytest

from harness.rewards.pairs import sample_pairs


def test_pairs_are_strictly_ordered_and_capped_per_prompt():
    scores = [[0.1, 0.5, 0.3, 0.9, 0.7], [2.0, 1.0, 3.0, 0.0, 5.0]]
    result = sample_pairs(scores, 4, np.random.default_rng(0))
    assert result.skipped_prompts == 0
    for prompt in range(2):
        mine = [p for p in result.pairs if p.prompt_index == prompt]
        assert len(mine) == 4
        assert len({(p.chosen, p.rejected) for p in mine}) == 4
        assert all(scores[prompt][p.chosen] > scores[prompt][p.rejected] for p in mine)


def test_ties_give_no_pair_and_such_prompts_are_counted():
    scores = [[1.0, 1.0, 1.0], [0.0, 1.0, 1.0], [4.0, 4.0, 4.0]]
    result = sample_pairs(scores, 10, np.random.default_rng(0))
    assert result.skipped_prompts == 2
    assert sorted((p.chosen, p.rejected) for p in result.pairs) == [(1, 0), (2, 0)]  # all there are, fewer than P


def test_identical_responses_never_pair_even_with_different_scores():
    scores = [[0.2, 0.9, 0.5]]
    identities = [["same", "same", "other"]]
    result = sample_pairs(scores, 10, np.random.default_rng(0), identities)
    assert sorted((p.chosen, p.rejected) for p in result.pairs) == [(1, 2), (2, 0)]


def test_pair_sampling_is_seeded():
    scores = [list(np.random.default_rng(1).normal(size=8))]
    a = sample_pairs(scores, 5, np.random.default_rng(3)).pairs
    b = sample_pairs(scores, 5, np.random.default_rng(3)).pairs
    assert a == b


def test_nan_scores_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        sample_pairs([[0.1, float("nan")]], 1, np.random.default_rng(0))
