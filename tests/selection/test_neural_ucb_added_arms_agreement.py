"""The review discussion's extra bandit and ensemble pieces: NeuralUCB against its formulas, arms added and
reset on every bandit and inside LASeR (join/reset by iteration), the accuracy-difference MAB reward, and the
RM agreement ensemble's pair filter."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from harness.config.errors import ConfigError
from harness.rewards.pairs import sample_pairs
from harness.selection.bandits.base import BanditContext
from harness.selection.bandits.neural_ucb import NeuralUCB, NeuralUCBConfig
from harness.selection.bandits.registry import BANDITS
from harness.selection.combiners import COMBINERS, CombinerContext, admissible_groups
from harness.selection.laser import Laser, LaserConfig
from harness.selection.method import BatchContext, MethodContext, StepFeedback
from harness.selection.registry import build_method


def _context(iteration: int, step: int, dim: int = 6) -> BatchContext:
    embedding = np.random.default_rng(step).normal(size=dim)
    return BatchContext(iteration=iteration, step=step, batch_index=0, num_steps=1, prompts=["p"], embedding=embedding)


def test_neural_ucb_starts_at_zero_and_its_gradients_are_exact():  # f = sqrt(m) w2 . relu(W1 x)
    bandit = NeuralUCB(2, 3, NeuralUCBConfig(width=4), seed=0)
    arm = bandit.arms[0]
    x = np.array([0.3, -0.5, 0.8])
    value, g1, g2 = arm.value_and_gradient(x)
    assert value == pytest.approx(0.0)  # mirrored halves
    arm.W1 += np.random.default_rng(1).normal(0, 0.3, size=arm.W1.shape)  # off the symmetric start
    value, g1, g2 = arm.value_and_gradient(x)
    eps = 1e-6
    for matrix, gradient in ((arm.W1, g1), (arm.w2, g2)):
        numeric = np.zeros_like(matrix)
        for index in np.ndindex(matrix.shape):
            matrix[index] += eps
            up = arm.value_and_gradient(x)[0]
            matrix[index] -= 2 * eps
            down = arm.value_and_gradient(x)[0]
            matrix[index] += eps
            numeric[index] = (up - down) / (2 * eps)
        np.testing.assert_allclose(gradient, numeric, atol=1e-6)


def test_neural_ucb_bonus_is_the_full_design_formula():
    config = NeuralUCBConfig(nu=0.7, width=4, reg=2.0, epochs=3)
    bandit = NeuralUCB(1, 3, config, seed=0)
    arm = bandit.arms[0]
    Z = 2.0 * np.eye(4 * 3 + 4)   # lambda I over all parameters (W1 and w2)
    rng = np.random.default_rng(2)
    for _ in range(4):
        x = rng.normal(size=3)
        _, g1, g2 = arm.value_and_gradient(x)   # g at theta_{t-1} joins Z
        g = np.concatenate([g1.ravel(), g2])
        bandit.update(0, x, float(rng.uniform()))
        Z += np.outer(g, g) / 4
        y = rng.normal(size=3)
        value, g1, g2 = arm.value_and_gradient(y)
        g = np.concatenate([g1.ravel(), g2])
        expected = value + 0.7 * np.sqrt(g @ np.linalg.solve(Z, g) / 4)
        assert bandit.scores(y)[0] == pytest.approx(expected, rel=1e-9)


def test_neural_ucb_fits_rewards_learns_the_better_arm_and_resumes_identically():
    rng = np.random.default_rng(0)
    bandit = NeuralUCB(3, 8, NeuralUCBConfig(nu=0.5, epochs=30, learning_rate=0.5), seed=0)
    picks = []
    for step in range(120):
        x = rng.normal(size=8)
        x /= np.linalg.norm(x)
        arm = bandit.select(x)
        picks.append(arm)
        bandit.update(arm, x, 0.8 if arm == 1 else 0.2)
        if step == 80:
            restored = NeuralUCB(3, 8, bandit.config, seed=99)
            restored.load_state_dict(copy.deepcopy(bandit.state_dict()))
    assert np.bincount(picks[-40:], minlength=3)[1] >= 36
    fitted = bandit.arms[1].value_and_gradient(x)[0]
    assert fitted == pytest.approx(0.8, abs=0.15)
    # the restored copy, driven by the same stream from step 81 on, chooses as the original did
    replay = NeuralUCB(3, 8, bandit.config, seed=0)
    rng = np.random.default_rng(0)
    for step in range(120):
        x = rng.normal(size=8)
        x /= np.linalg.norm(x)
        if step <= 80:
            arm = replay.select(x)
            replay.update(arm, x, 0.8 if arm == 1 else 0.2)
        else:
            assert restored.select(x) == replay.select(x) == picks[step]
            restored.update(picks[step], x, 0.8 if picks[step] == 1 else 0.2)
            replay.update(picks[step], x, 0.8 if picks[step] == 1 else 0.2)


def test_neural_ucb_settings_are_checked_at_load():
    with pytest.raises(ConfigError, match=r"method\.args\.width: must be >= 2, got 0"):
        Laser(LaserConfig(bandit="neural_ucb", bandit_args={"width": 0}), MethodContext(["rm_a"]))


@pytest.mark.parametrize("name", BANDITS.names())
def test_every_bandit_adds_and_resets_an_arm(name):
    config = BANDITS.parse(name, {}, prefix="bandit")
    bandit = BANDITS.build(name, config, BanditContext(2, 5, seed=0))
    x = np.linspace(-1, 1, 5) / np.linalg.norm(np.linspace(-1, 1, 5))
    for step in range(6):
        bandit.update(step % 2, x, 1.0)
    learnt = copy.deepcopy(bandit.state_dict())
    assert bandit.add_arm() == 2 and bandit.num_arms == 2 + 1
    fresh = BANDITS.build(name, config, BanditContext(3, 5, seed=0))
    state, fresh_state = bandit.state_dict(), fresh.state_dict()
    key = "arms" if "arms" in state else ("scores" if "scores" in state else "sums")
    # the new arm has fresh statistics; the old arms keep theirs
    assert _same(state[key][:2], learnt[key][:2])
    if name in ("linucb", "lints"):
        assert state["arms"][2]["C"].shape[0] == 0 and not state["arms"][2]["b"].any()
    elif name == "neural_ucb":
        assert state["arms"][2]["rewards"] == [] and not np.allclose(state["arms"][2]["W1"], state["arms"][0]["W1_0"])
    else:
        assert state[key][2] == 0.0 and fresh_state[key][2] == 0.0
    selected = {bandit.select(x) for _ in range(30)}
    assert selected <= {0, 1, 2}
    bandit.reset_arm(0)
    after = bandit.state_dict()
    assert _same(after[key][1:2], state[key][1:2])
    if name in ("linucb", "lints"):
        assert after["arms"][0]["C"].shape[0] == 0
    elif name == "neural_ucb":
        assert after["arms"][0]["rewards"] == []
    else:
        assert after[key][0] == 0.0 and (name != "gaussian_ts" or after["counts"][0] == 0.0)


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b))


def _drive_laser(laser: Laser, steps: range, chosen: list[str]) -> None:
    """LASeR over 4 steps per iteration (iterations 1-3) for ``steps``, its choices appended to ``chosen``."""
    for step in steps:
        iteration = 1 + step // 4
        context = _context(iteration, step)
        choice = laser.select(context)
        chosen.append(choice.reward_models[0])
        if iteration == 1:
            assert choice.reward_models[0] != "rm_c" and laser.bandit.num_arms == 2
        laser.feedback(context, choice, StepFeedback(loss=1.0 + 0.1 * step, num_pairs=2, skipped_prompts=0))


def test_laser_arms_join_and_reset_by_iteration_and_resume():
    config = LaserConfig(bandit="linucb", join={"rm_c": 2}, reset={"rm_a": 3}, bandit_args={"alpha": 0.0})
    laser = Laser(config, MethodContext(["rm_a", "rm_b", "rm_c"]))
    laser.validate()
    chosen: list[str] = []
    _drive_laser(laser, range(5), chosen)  # the first step of iteration 2 added rm_c with A = I, b = 0
    assert laser.arms == ["rm_a", "rm_b", "rm_c"] and laser.events_done == ["join:rm_c"]
    assert laser.bandit.arms[2].n == int(chosen[4] == "rm_c")
    assert chosen[4] == "rm_c" or not laser.bandit.arms[2].b.any()
    restored = Laser(config, MethodContext(["rm_a", "rm_b", "rm_c"]))
    restored.load_state_dict(copy.deepcopy(laser.state_dict()))
    assert restored.arms == ["rm_a", "rm_b", "rm_c"] and restored.bandit.num_arms == 3
    _drive_laser(laser, range(5, 12), chosen)
    assert laser.events_done == ["join:rm_c", "reset:rm_a"]
    # the reset forgot rm_a at the start of iteration 3: only its iteration-3 updates are left
    assert laser.bandit.arms[0].n == chosen[8:].count("rm_a")
    again: list[str] = []
    _drive_laser(restored, range(5, 12), again)  # the restored copy goes on exactly as the original did
    assert again == chosen[5:]


@pytest.mark.parametrize("args, message", [
    ({"join": {"rm_x": 2}}, r"method.args.join.rm_x: unknown reward model 'rm_x'"),
    ({"join": {"rm_b": 0}}, r"method.args.join.rm_b: must be >= 1, got 0"),
    ({"join": {"rm_a": 2, "rm_b": 2}}, "every arm joins later"),
    ({"join": {"rm_b": 3}, "reset": {"rm_b": 2}}, r"reset.rm_b: it joins at iteration 3; a reset must come later, got 2"),
    ({"mab_reward": "accuracy"}, r"method.args.mab_reward: expected one of 'negative_loss', 'accuracy_difference', 'reward_spread', got 'accuracy'"),
])
def test_laser_pool_changes_are_checked(args, message):
    with pytest.raises(ConfigError, match=message):
        build_method("laser", args, MethodContext(["rm_a", "rm_b"]))


def test_accuracy_difference_reward_is_the_scaled_gain_in_gold_accuracy():
    laser = build_method("laser", {"mab_reward": "accuracy_difference", "bandit": "exp3"}, MethodContext(["rm_a", "rm_b"]))
    assert laser.declared.accuracy_after and laser.declared.needs_gold
    assert not build_method("laser", {}, MethodContext(["rm_a", "rm_b"])).declared.needs_gold
    context = _context(1, 0)
    gains = [(0.25, 0.5), (0.5, 0.25), (0.5, 1.0), (0.4, 0.5)]  # raw rewards 0.25, -0.25, 0.5, 0.1
    rewards = []
    for before, after in gains:
        choice = laser.select(context)
        laser.feedback(context, choice, StepFeedback(loss=0.3, num_pairs=2, skipped_prompts=0, sample_accuracy=before,
                                                     accuracy_after=after))
        rewards.append(laser.last_reward)
    assert laser.scaler.history == pytest.approx([0.25, -0.25, 0.5, 0.1])
    # 0.5 first; then below/above the 20/80% quantiles of the history; then inside them
    q_lo, q_hi = np.quantile([0.25, -0.25, 0.5], [0.2, 0.8])
    assert rewards[:3] == [0.5, 0.0, 1.0] and rewards[3] == pytest.approx((0.1 - q_lo) / (q_hi - q_lo))
    with pytest.raises(ValueError, match="needs the samples' gold accuracy before and after"):
        laser.feedback(context, laser.select(context), StepFeedback(loss=0.3, num_pairs=2, skipped_prompts=0))


def test_agreement_admits_only_the_pairs_the_rms_agree_on():
    scores = np.array([[4.0, 1.0], [2.0, 2.0], [1.0, 0.0]])  # mean 2.5, 2, 0.5; RM 2 prefers response 1 to 0
    combiner = COMBINERS.build("agreement", {}, CombinerContext(), prefix="combine_args")
    np.testing.assert_allclose(combiner.combine(scores), [2.5, 2.0, 0.5])
    mask = combiner.admissible(scores)
    assert mask.tolist() == [[False, False, True], [False, False, True], [False, False, False]]
    pairs = sample_pairs([combiner.combine(scores)], 10, np.random.default_rng(0), allowed=[mask])
    assert sorted((p.chosen, p.rejected) for p in pairs.pairs) == [(0, 2), (1, 2)]
    half = COMBINERS.build("agreement", {"min_agreement": 0.5}, CombinerContext(), prefix="combine_args")
    pairs = sample_pairs([half.combine(scores)], 10, np.random.default_rng(0), allowed=[half.admissible(scores)])
    assert sorted((p.chosen, p.rejected) for p in pairs.pairs) == [(0, 1), (0, 2), (1, 2)]
    # two prompt groups of three responses: one mask each
    masks = admissible_groups(combiner, np.concatenate([scores, scores[::-1]]), 3)
    assert [m.sum() for m in masks] == [2, 2]


def test_a_prompt_whose_rms_never_agree_is_skipped():
    scores = np.array([[1.0, 0.0], [0.0, 1.0]])
    combiner = COMBINERS.build("agreement", {}, CombinerContext(), prefix="combine_args")
    pairs = sample_pairs([[0.6, 0.5]], 2, np.random.default_rng(0), allowed=[combiner.admissible(scores)])
    assert pairs.pairs == [] and pairs.skipped_prompts == 1


def test_agreement_ensemble_method_and_its_checks():
    method = build_method("agreement_ensemble", {"min_agreement": 0.75}, MethodContext(["rm_a", "rm_b", "rm_c"]))
    choice = method.select(_context(1, 0))
    assert choice.reward_models == ("rm_a", "rm_b", "rm_c") and choice.combine == "agreement"
    assert choice.combiner().config.min_agreement == 0.75
    with pytest.raises(ConfigError, match="needs at least two reward models"):
        build_method("agreement_ensemble", {}, MethodContext(["rm_a"]))
    with pytest.raises(ConfigError, match=r"method\.args\.min_agreement: must be in \(0, 1\], got 0\.0"):
        build_method("agreement_ensemble", {"min_agreement": 0}, MethodContext(["rm_a", "rm_b"]))
