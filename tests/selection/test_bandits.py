"""LinUCB and Exp3 against straightforward reference formulas on a fixed stream; state round-trips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.selection.bandits.exp3 import Exp3
from harness.selection.bandits.linucb import LinUCB, NaiveLinUCB
from harness.selection.bandits.scaling import QuantileRewardScaler


def _stream(steps: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        yield rng.normal(size=dim), float(rng.uniform())


def test_linucb_matches_dense_inverse_formulas_on_a_fixed_stream():
    dim, arms, alpha = 12, 3, 0.7
    fast = LinUCB(arms, dim, alpha=alpha, b_init_std=0.3, seed=5)
    A = [np.eye(dim) for _ in range(arms)]
    b = [arm.b.copy() for arm in fast.arms]
    for x, reward in _stream(60, dim):
        reference_scores = []
        for k in range(arms):
            A_inv = np.linalg.inv(A[k])
            reference_scores.append(x @ A_inv @ b[k] + alpha * math.sqrt(x @ A_inv @ x))
        np.testing.assert_allclose(fast.scores(x), reference_scores, rtol=1e-9, atol=1e-9)
        arm = fast.select(x)
        assert arm == int(np.argmax(reference_scores))
        fast.update(arm, x, reward)
        A[arm] += np.outer(x, x)
        b[arm] += reward * x
    for k in range(arms):
        np.testing.assert_allclose(fast.arms[k].inverse(), np.linalg.inv(A[k]), atol=1e-9)
        np.testing.assert_allclose(fast.arms[k].b, b[k], atol=1e-12)


def test_linucb_agrees_with_the_naive_benchmark_reference():
    fast, naive = LinUCB(4, 16, seed=1), NaiveLinUCB(4, 16, seed=1)
    for x, reward in _stream(40, 16, seed=3):
        arm = fast.select(x)
        assert arm == naive.select(x)
        fast.update(arm, x, reward)
        naive.update(arm, x, reward)


def test_linucb_state_round_trip_continues_identically():
    bandit = LinUCB(3, 8, seed=2)
    stream = list(_stream(100, 8, seed=4))  # > 64 updates per arm forces the storage to grow
    for x, reward in stream[:70]:
        bandit.update(bandit.select(x), x, reward)
    restored = LinUCB(3, 8, seed=99)
    restored.load_state_dict(bandit.state_dict())
    for x, reward in stream[70:]:
        np.testing.assert_array_equal(restored.scores(x), bandit.scores(x))
        arm = bandit.select(x)
        assert restored.select(x) == arm
        bandit.update(arm, x, reward)
        restored.update(arm, x, reward)


def test_linucb_rejects_a_wrong_context_size():
    with pytest.raises(ValueError, match="dimension 5"):
        LinUCB(2, 4).select(np.ones(5))


def test_exp3_matches_reference_formulas_with_the_same_random_stream():
    arms, gamma, seed = 4, 0.2, 7
    bandit = Exp3(arms, gamma=gamma, seed=seed)
    rng = np.random.default_rng(seed)
    scores = np.zeros(arms)
    rewards = np.random.default_rng(1).uniform(size=(50, arms))
    for t in range(50):
        p = (1 - gamma) * np.exp(scores) / np.exp(scores).sum() + gamma / arms
        np.testing.assert_allclose(bandit.probabilities(), p, rtol=1e-12)
        expected_arm = int(rng.choice(arms, p=p))
        arm = bandit.select()
        assert arm == expected_arm
        bandit.update(arm, None, rewards[t, arm])
        scores[arm] += rewards[t, arm] / p[arm]
    np.testing.assert_allclose(bandit.scores_, scores, rtol=1e-12)


def test_exp3_state_round_trip_includes_the_random_generator():
    bandit = Exp3(3, gamma=0.3, seed=0)
    for t in range(20):
        bandit.update(bandit.select(), None, t % 2)
    restored = Exp3(3, seed=123)
    restored.load_state_dict(bandit.state_dict())
    for t in range(20):
        arm = bandit.select()
        assert restored.select() == arm
        bandit.update(arm, None, 0.5)
        restored.update(arm, None, 0.5)


def test_quantile_scaling_follows_the_appendix_formula():
    scaler = QuantileRewardScaler(0.2, 0.8)
    assert scaler.scale(-3.0) == 0.5  # no history yet
    for raw in [-1.0, -2.0, -4.0, -5.0]:
        scaler.scale(raw)
    history = np.array([-3.0, -1.0, -2.0, -4.0, -5.0])
    q_lo, q_hi = np.quantile(history, [0.2, 0.8])
    assert scaler.scale(-10.0) == 0.0
    assert scaler.scale(10.0) == 1.0
    history = np.append(history, [-10.0, 10.0])
    q_lo, q_hi = np.quantile(history, [0.2, 0.8])
    value = -2.5
    assert scaler.scale(value) == pytest.approx((value - q_lo) / (q_hi - q_lo))


def test_quantile_scaler_state_round_trip():
    scaler = QuantileRewardScaler()
    for raw in [0.1, 0.5, 0.3]:
        scaler.scale(raw)
    restored = QuantileRewardScaler()
    restored.load_state_dict(scaler.state_dict())
    assert restored.scale(0.35) == scaler.scale(0.35)
