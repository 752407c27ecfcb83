"""Thompson sampling bandits: LinTS's posterior against a hand-computed 2-d case, its draws against the scalar
Gaussian they stand for, Gaussian TS's posterior, state round trips, and both inside LASeR."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from harness.config.errors import ConfigError
from harness.selection.bandits.thompson import GaussianTS, LinTS
from harness.selection.laser import Laser, LaserConfig
from harness.selection.method import BatchContext, MethodContext, StepFeedback


def test_lints_posterior_after_two_updates_is_the_hand_computed_one():
    bandit = LinTS(num_arms=2, dim=2, v=1.0, b_init_std=0.0, seed=0)
    bandit.update(0, np.array([1.0, 0.0]), 1.0)
    bandit.update(0, np.array([1.0, 1.0]), 0.5)
    # A = I + x1 x1^T + x2 x2^T = [[3, 1], [1, 2]], b = (1.5, 0.5); A^-1 = [[2, -1], [-1, 3]] / 5; mu = (0.5, 0)
    arm = bandit.arms[0]
    np.testing.assert_allclose(arm.inverse(), np.array([[2.0, -1.0], [-1.0, 3.0]]) / 5)
    for context, mean, variance in (((0.0, 1.0), 0.0, 3 / 5), ((1.0, 0.0), 0.5, 2 / 5), ((1.0, 1.0), 0.5, 3 / 5)):
        got = arm.mean_and_variance(np.array(context))
        assert got == pytest.approx((mean, variance))
    assert bandit.arms[1].mean_and_variance(np.array([0.6, 0.8])) == pytest.approx((0.0, 1.0))  # untouched arm: prior


def test_lints_draws_are_the_posterior_projection():
    bandit = LinTS(num_arms=2, dim=2, v=0.7, b_init_std=0.0, seed=3)
    bandit.update(0, np.array([1.0, 0.0]), 1.0)
    bandit.update(0, np.array([1.0, 1.0]), 0.5)
    context = np.array([1.0, 1.0])
    expected_rng = copy.deepcopy(bandit.rng)
    draw = bandit.sampled_scores(context)
    z = expected_rng.standard_normal(2)
    np.testing.assert_allclose(draw, [0.5 + 0.7 * math.sqrt(3 / 5) * z[0], 0.0 + 0.7 * math.sqrt(2.0) * z[1]])
    draws = np.array([bandit.sampled_scores(context)[0] for _ in range(20000)])
    assert abs(draws.mean() - 0.5) < 0.02 and abs(draws.var() - 0.49 * 3 / 5) < 0.02


def test_lints_learns_the_better_arm_and_resumes_identically():
    rng = np.random.default_rng(0)
    bandit = LinTS(num_arms=3, dim=8, v=0.3, seed=1)

    def context() -> np.ndarray:  # like mean prompt embeddings: one shared direction plus noise
        x = 1.0 + 0.3 * rng.normal(size=8)
        return x / np.linalg.norm(x)

    for _ in range(200):
        x = context()
        arm = bandit.select(x)
        bandit.update(arm, x, (0.9 if arm == 2 else 0.2) + rng.normal(0, 0.05))
    restored = LinTS(num_arms=3, dim=8, seed=99)
    restored.load_state_dict(copy.deepcopy(bandit.state_dict()))
    contexts = [context() for _ in range(20)]
    assert [bandit.select(x) for x in contexts] == [restored.select(x) for x in contexts]
    picks = [bandit.select(x) for x in contexts]
    assert picks.count(2) >= 18


def test_gaussian_ts_posterior_and_round_trip():
    bandit = GaussianTS(num_arms=3, v=1.0, seed=0)
    for arm, reward in ((0, 1.0), (0, 0.5), (2, 0.25)):
        bandit.update(arm, None, reward)
    mean, std = bandit.posterior()
    np.testing.assert_allclose(mean, [1.5 / 3, 0.0, 0.25 / 2])
    np.testing.assert_allclose(std, [1 / math.sqrt(3), 1.0, 1 / math.sqrt(2)])
    expected_rng = copy.deepcopy(bandit.rng)
    assert bandit.select() == int(np.argmax(mean + std * expected_rng.standard_normal(3)))
    restored = GaussianTS(num_arms=3, seed=5)
    restored.load_state_dict(copy.deepcopy(bandit.state_dict()))
    assert [bandit.select() for _ in range(30)] == [restored.select() for _ in range(30)]


@pytest.mark.parametrize("bandit, args", [("lints", {"v": 0.2}), ("gaussian_ts", {"v": 0.5})])
def test_laser_runs_either_thompson_bandit_and_restores_it(bandit, args):
    config = LaserConfig(bandit=bandit, bandit_args=args)
    laser = Laser(config, MethodContext(["rm_a", "rm_b"]))
    context = BatchContext(iteration=1, step=0, batch_index=0, num_steps=4, prompts=["p"], embedding=np.ones(6))
    for step in range(6):
        choice = laser.select(context)
        laser.feedback(context, choice, StepFeedback(loss=1.0 - 0.1 * step, num_pairs=3, skipped_prompts=0))
    restored = Laser(config, MethodContext(["rm_a", "rm_b"]))
    restored.load_state_dict(copy.deepcopy(laser.state_dict()))
    assert type(restored.bandit) is type(laser.bandit)
    assert [laser.select(context).label for _ in range(10)] == [restored.select(context).label for _ in range(10)]


def test_a_negative_posterior_scale_is_refused_at_load():
    with pytest.raises(ConfigError, match=r"method\.args\.v: must be >= 0, got -1\.0"):
        Laser(LaserConfig(bandit="lints", bandit_args={"v": -1.0}), MethodContext(["rm_a"]))
