"""The profile's teaching statistics (normalised within-prompt reward std, mean margin of the loop's pairs) against
hand-computed cases, their invariance to an affine rescaling of an RM's scores, and the zero-variance guard."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.profile.teaching import mean_margin, normaliser, pair_margins, reward_std

# prompt p: scores 0, 2 (std 1); prompt q: scores 1, 1, 4 (mean 2, std sqrt(2))
SCORES = np.array([0.0, 2.0, 1.0, 1.0, 4.0])
GROUPS = ["p", "p", "q", "q", "q"]
# all five: mean 1.6, squared deviations 2.56 + 0.16 + 0.36 + 0.36 + 5.76 = 9.2, std sqrt(9.2 / 5)
SCALE = math.sqrt(1.84)


def test_reward_std_equals_a_hand_computed_case():
    assert normaliser(SCORES) == pytest.approx(SCALE)
    assert reward_std(SCORES, GROUPS, normaliser(SCORES)) == pytest.approx((1 + math.sqrt(2)) / 2 / SCALE)
    # a category's prompts divided by the RM's normaliser over every sample, not the category's own
    assert reward_std(SCORES[:2], GROUPS[:2], SCALE) == pytest.approx(1 / SCALE)


def test_mean_margin_of_the_loops_pairs_equals_a_hand_computed_case():
    # every strictly ordered pair (10 per prompt is more than exist): p (2 > 0) margin 2; q (4 > 1) twice, margin 3
    prompts, margins = pair_margins(SCORES, GROUPS, None, 10, np.random.default_rng(0))
    assert prompts == ["p", "q", "q"] and margins.tolist() == [2.0, 3.0, 3.0]
    assert mean_margin(margins, SCALE) == pytest.approx(8 / 3 / SCALE)
    # identical responses never make a pair (q's first and last alike): p's 2 and q's remaining 3
    _, margins = pair_margins(SCORES, GROUPS, ["a", "b", "x", "y", "x"], 10, np.random.default_rng(0))
    assert margins.tolist() == [2.0, 3.0]
    # one pair per prompt: q's draw has margin 3 whichever it is
    prompts, margins = pair_margins(SCORES, GROUPS, None, 1, np.random.default_rng(7))
    assert prompts == ["p", "q"] and mean_margin(margins, SCALE) == pytest.approx(2.5 / SCALE)


def test_both_statistics_ignore_an_affine_rescaling_of_the_rms_scores():
    rng = np.random.default_rng(3)
    scores = rng.normal(size=60).round(1)  # rounded: ties, which never make a pair
    groups = np.repeat(np.arange(10), 6)
    rescaled = 3.7 * scores - 12.0
    assert reward_std(rescaled, groups, normaliser(rescaled)) == pytest.approx(reward_std(scores, groups, normaliser(scores)))
    prompts, margins = pair_margins(scores, groups, None, 4, np.random.default_rng(11))
    prompts_rescaled, margins_rescaled = pair_margins(rescaled, groups, None, 4, np.random.default_rng(11))
    assert prompts == prompts_rescaled and len(margins) == 40  # the same pairs
    assert mean_margin(margins_rescaled, normaliser(rescaled)) == pytest.approx(mean_margin(margins, normaliser(scores)))
    assert mean_margin(margins, normaliser(scores)) > 0


def test_an_rm_without_variance_has_zero_reward_std_and_no_margin():
    constant = np.full(6, 0.25)
    groups = [0, 0, 0, 1, 1, 1]
    assert normaliser(constant) == 0.0
    assert reward_std(constant, groups, normaliser(constant)) == 0.0  # not 0 / 0
    prompts, margins = pair_margins(constant, groups, None, 3, np.random.default_rng(0))
    assert prompts == [] and mean_margin(margins, normaliser(constant)) is None
    broken = np.array([1.0, np.nan, 2.0])
    assert normaliser(broken) is None and reward_std(broken, [0, 0, 1], None) is None
