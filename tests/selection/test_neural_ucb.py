"""NeuralUCB as Zhou et al. (ICML 2020) define it: an arm that keeps paying less than the untried ones is left
(issue 27), the network starts at f = 0 with the bonus nu |g| / sqrt(m lambda), and the refit is J gradient
steps from theta_0 on the paper's loss."""

from __future__ import annotations

import numpy as np
import pytest

from harness.config.errors import ConfigError
from harness.selection.bandits.neural_ucb import NeuralUCB, NeuralUCBConfig


def _play_against_a_poor_first_arm(seed: int, rounds: int = 60) -> tuple[int, list[int]]:
    """4 arms, one unit context; the arm played first pays 0.3, the others 0.6, 0.7 and 0.8."""
    x = np.random.default_rng(100).normal(size=16)
    x /= np.linalg.norm(x)
    bandit = NeuralUCB(4, 16, seed=seed)  # the defaults
    picks: list[int] = []
    pays: dict[int, float] = {}
    for _ in range(rounds):
        arm = bandit.select(x)
        if not pays:
            pays = {arm: 0.3} | dict(zip([k for k in range(4) if k != arm], (0.6, 0.7, 0.8)))
        picks.append(arm)
        bandit.update(arm, x, pays[arm])
    return picks[0], picks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_arm_that_keeps_paying_less_than_the_untried_ones_is_left(seed):
    poor, picks = _play_against_a_poor_first_arm(seed)
    assert set(picks[:10]) == {0, 1, 2, 3}   # every arm is tried early
    assert picks[20:].count(poor) <= 4       # and the poor one is left: at most 10 % of rounds 20-60
    assert _play_against_a_poor_first_arm(seed)[1] == picks  # the same seed, the same choices


def test_the_network_starts_at_zero_with_the_bonus_nu_g_over_sqrt_m_lambda():
    config = NeuralUCBConfig(nu=0.4, reg=2.0)
    bandit = NeuralUCB(200, 8, config, seed=0)
    x = np.random.default_rng(3).normal(size=8)
    x /= np.linalg.norm(x)
    scores, norms = bandit.scores(x), []
    for arm, score in zip(bandit.arms, scores):
        value, g1, g2 = arm.value_and_gradient(x)
        assert value == pytest.approx(0.0, abs=1e-12)
        norm2 = float(np.sum(g1 ** 2) + np.sum(g2 ** 2))
        assert score == pytest.approx(0.4 * np.sqrt(norm2 / (100 * 2.0)), rel=1e-9)
        norms.append(norm2 / 100)
    # the sqrt(m) of f makes |g|^2 / m about 2 |x|^2: the first bonus is about nu sqrt(2 / lambda), not ~0
    assert np.mean(norms) == pytest.approx(2.0, rel=0.1)


def _loss(W1, w2, W1_0, w2_0, X, r, reg):
    m = w2.shape[0]
    f = np.sqrt(m) * np.maximum(X @ W1.T, 0.0) @ w2
    return 0.5 * np.sum((f - r) ** 2) + 0.5 * m * reg * (np.sum((W1 - W1_0) ** 2) + np.sum((w2 - w2_0) ** 2))


def test_the_refit_is_j_gradient_steps_from_theta_0_on_the_papers_loss():
    config = NeuralUCBConfig(width=4, reg=0.5, learning_rate=0.8, epochs=3)
    bandit = NeuralUCB(1, 3, config, seed=1)
    arm = bandit.arms[0]
    W1_0, w2_0 = arm.W1_0.copy(), arm.w2_0.copy()
    rng = np.random.default_rng(4)
    X, r = rng.normal(size=(3, 3)), rng.uniform(size=3)
    for x, reward in zip(X, r):
        bandit.update(0, x, float(reward))
    # reference: numeric gradients of the loss, from theta_0, step C / (m lambda + sum_i |g(x_i; theta_0)|^2)
    norms = sum(np.sum(g1 ** 2) + np.sum(g2 ** 2) for g1, g2 in
                (NeuralUCB(1, 3, config, seed=1).arms[0].value_and_gradient(x)[1:] for x in X))
    step = 0.8 / (4 * 0.5 + norms)
    W1, w2, eps = W1_0.copy(), w2_0.copy(), 1e-6
    for _ in range(3):
        grads = []
        for weights in (W1, w2):
            grad = np.zeros_like(weights)
            for index in np.ndindex(weights.shape):
                weights[index] += eps
                up = _loss(W1, w2, W1_0, w2_0, X, r, 0.5)
                weights[index] -= 2 * eps
                down = _loss(W1, w2, W1_0, w2_0, X, r, 0.5)
                weights[index] += eps
                grad[index] = (up - down) / (2 * eps)
            grads.append(grad)
        W1, w2 = W1 - step * grads[0], w2 - step * grads[1]
    np.testing.assert_allclose(arm.W1, W1, atol=1e-7)
    np.testing.assert_allclose(arm.w2, w2, atol=1e-7)


def test_an_odd_width_is_refused_and_an_old_diagonal_state_is_not_resumed():
    with pytest.raises(ConfigError, match="an even width >= 2"):
        NeuralUCBConfig(width=5)
    bandit = NeuralUCB(2, 3, NeuralUCBConfig(width=4), seed=0)
    state = bandit.state_dict()
    for arm in state["arms"]:
        del arm["M"], arm["A"], arm["H"]
        arm["Z1"], arm["Z2"] = np.ones((4, 3)), np.ones(4)
    with pytest.raises(ValueError, match="earlier diagonal NeuralUCB"):
        NeuralUCB(2, 3, NeuralUCBConfig(width=4), seed=0).load_state_dict(state)
