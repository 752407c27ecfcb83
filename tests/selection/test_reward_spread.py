"""The reward-spread MAB reward (LASeR's ``mab_reward: reward_spread``, after Razin et al. 2025): the statistic
against a hand computation and an affine rescaling, LASeR learning from it, and a short run on a task without
gold answers (where the accuracy-difference reward is refused)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from harness.config.errors import ConfigError
from harness.loop.reward_spread import reward_spread
from harness.loop.run_config import build_run_config
from harness.run.execute import execute_run
from harness.selection.bandits.scaling import QuantileRewardScaler
from harness.selection.method import BatchContext, MethodContext, StepFeedback
from harness.selection.registry import build_method

from conftest import OPEN_TASK_DATA, tiny_run_config

# two prompts, three samples each: within-prompt stds sqrt(2/3) and sqrt(8/3) (population),
# all six scores 0, 1, 2, 4, 6, 8 have mean 3.5 and variance (12.25 + 6.25 + 2.25 + 0.25 + 6.25 + 20.25) / 6 = 47.5 / 6
BATCH = np.array([[0.0, 1.0, 2.0], [4.0, 6.0, 8.0]])
BY_HAND = (math.sqrt(2 / 3) + math.sqrt(8 / 3)) / 2 / math.sqrt(47.5 / 6)


def test_the_spread_of_a_hand_built_batch():
    assert reward_spread(BATCH) == pytest.approx(BY_HAND, rel=1e-12)
    assert reward_spread(np.array([[1.0, 2.0], [1.0, 2.0]])) == pytest.approx(1.0)  # only within prompts
    assert reward_spread(np.array([[1.0, 1.0], [3.0, 3.0]])) == 0.0                 # only between prompts
    assert reward_spread(np.full((2, 3), 0.7)) == 0.0                              # no spread at all: said, not divided


@pytest.mark.parametrize("scale, shift", [(3.0, 0.0), (0.01, -5.0), (-2.0, 100.0), (1e6, 1e3)])
def test_the_spread_is_invariant_to_an_affine_rescaling(scale, shift):
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(4, 5))
    assert reward_spread(scale * scores + shift) == pytest.approx(reward_spread(scores), rel=1e-9)
    assert reward_spread(scale * BATCH + shift) == pytest.approx(BY_HAND, rel=1e-9)


def test_bad_score_tables_are_refused():
    with pytest.raises(ValueError, match="prompts x samples"):
        reward_spread(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="NaN"):
        reward_spread(np.array([[1.0, np.nan]]))


def test_laser_learns_from_the_scaled_spread_and_needs_no_gold():
    laser = build_method("laser", {"mab_reward": "reward_spread", "bandit": "exp3"}, MethodContext(["rm_a", "rm_b"]))
    assert laser.declared.reward_spread and not laser.declared.needs_gold and not laser.declared.accuracy_after
    assert not build_method("laser", {}, MethodContext(["rm_a", "rm_b"])).declared.reward_spread
    context = BatchContext(iteration=1, step=0, batch_index=0, num_steps=1, prompts=["p"])
    spreads = [0.4, 0.1, 0.9, 0.5]
    expected, scaler = [], QuantileRewardScaler(0.2, 0.8)
    for spread in spreads:  # the loss is present (a step was taken) but is not what LASeR learns from
        laser.feedback(context, laser.select(context), StepFeedback(loss=0.3, num_pairs=2, skipped_prompts=0,
                                                                    reward_spread=spread))
        expected.append(scaler.scale(spread))
        assert laser.last_reward == pytest.approx(expected[-1])
    assert laser.scaler.history == spreads and expected[:3] == [0.5, 0.0, 1.0]
    with pytest.raises(ValueError, match="needs the chosen RM's reward spread"):
        laser.feedback(context, laser.select(context), StepFeedback(loss=0.3, num_pairs=2, skipped_prompts=0))


def test_a_short_run_without_gold_answers_learns_from_the_spread(tiny_models, data_dir, tmp_path):
    """On WildChat (open-ended: no gold answers at all) LASeR runs with the spread; the accuracy difference is refused."""
    task = {"name": "wildchat", "path": str(data_dir / OPEN_TASK_DATA["wildchat"]), "split_sizes": [8, 0, 2]}
    data = tiny_run_config(tiny_models, data_dir, tmp_path, task=task,
                           method={"name": "laser", "args": {"mab_reward": "reward_spread", "bandit": "exp3"}})
    data["train"].update(iterations=2, max_steps_per_iteration=2)
    data["eval"].update(dev_every_iteration=False, max_test_examples=2)
    with pytest.raises(ConfigError, match="needs gold answers"):
        build_run_config({**data, "method": {"name": "laser", "args": {"mab_reward": "accuracy_difference"}}})
    execute_run(build_run_config(data), progress=False)
    steps = [json.loads(line) for line in (tmp_path / "run" / "selections.jsonl").read_text().splitlines()]
    assert len(steps) == 4 and all(s["sample_accuracy"] is None for s in steps)  # no gold was scored
    trained = [s for s in steps if s["loss"] is not None]
    assert trained and all(0.0 <= s["reward_spread"] <= 1.0 for s in steps)
    scaler = QuantileRewardScaler(0.2, 0.8)  # the recorded raw spreads, scaled in turn, are the recorded MAB rewards
    assert [s["mab_reward"] for s in trained] == pytest.approx([scaler.scale(s["reward_spread"]) for s in trained])
