"""Reward combiners against hand-computed values on one 3 x 4 table (3 responses, 4 RMs), per-group combining,
and their validation at config load."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.config.errors import ConfigError
from harness.loop.run_config import build_run_config
from harness.selection.combiners import COMBINERS, CombinerContext, combine_groups
from harness.selection.method import RewardChoice

from conftest import tiny_run_config

TABLE = np.array([[1.0, 2.0, 0.0, 4.0],
                  [3.0, 1.0, 1.0, 0.0],
                  [2.0, 2.0, 5.0, 1.0]])


def combined(name: str, table: np.ndarray = TABLE, **args) -> np.ndarray:
    return COMBINERS.build(name, args, CombinerContext(), prefix="combine_args").combine(table)


def test_mean_min_and_uncertainty_weighted():
    np.testing.assert_allclose(combined("mean"), [7 / 4, 5 / 4, 10 / 4])
    np.testing.assert_allclose(combined("min"), [0.0, 0.0, 1.0])
    # population variance over the 4 RMs: 8.75/4, 4.75/4, 9/4; UWO = mean - lambda * variance
    np.testing.assert_allclose(combined("uwo", weight=0.5), [1.75 - 0.5 * 2.1875, 1.25 - 0.5 * 1.1875, 2.5 - 0.5 * 2.25])
    np.testing.assert_allclose(combined("uwo", weight=0.0), combined("mean"))


def test_rank_mean_shares_tied_ranks():
    # ranks per RM column: [1, 3, 2], [2.5, 1, 2.5] (a tie), [1, 2, 3], [3, 1, 2]
    np.testing.assert_allclose(combined("rank_mean"), [7.5 / 4, 7 / 4, 9.5 / 4])


def test_normalize_then_sum_is_gdpo_with_trls_sample_std_and_epsilon():
    # column means 2, 5/3, 2, 5/3; sample stds 1, sqrt(1/3), sqrt(7), sqrt(39/9)
    stds = [1.0, math.sqrt(1 / 3), math.sqrt(7.0), math.sqrt(39 / 9)]
    deviations = [[-1, 1 / 3, -2, 7 / 3], [1, -2 / 3, -1, -5 / 3], [0, 1 / 3, 3, -2 / 3]]
    expected = [sum(d / (s + 1e-4) for d, s in zip(row, stds)) for row in deviations]
    np.testing.assert_allclose(combined("normalize_then_sum"), expected)
    np.testing.assert_allclose(expected, [-0.05770687, -1.33315306, 1.39085993], atol=1e-7)
    np.testing.assert_allclose(combined("normalize_then_sum", weights=[1, 0, 0, 0]), [-1 / 1.0001, 1 / 1.0001, 0.0])
    np.testing.assert_allclose(combined("normalize_then_sum", table=TABLE[:1]), [0.0])  # one response


def test_standardized_mean_z_scores_each_rm_over_the_batch():
    z = (TABLE - TABLE.mean(axis=0)) / TABLE.std(axis=0)
    np.testing.assert_allclose(combined("standardized_mean"), z.mean(axis=1))
    constant = np.array([[1.0, 5.0], [1.0, 7.0]])  # an RM that does not vary contributes zeros
    np.testing.assert_allclose(combined("standardized_mean", table=constant), [-0.5, 0.5])


def test_group_combiners_see_one_prompt_group_at_a_time():
    shifted = TABLE + 100.0  # a second prompt whose scores sit elsewhere on every RM's scale
    batch = np.concatenate([TABLE, shifted])
    for name in ("normalize_then_sum", "rank_mean"):
        combiner = COMBINERS.build(name, context=CombinerContext())
        np.testing.assert_allclose(combine_groups(combiner, batch, 3), np.concatenate([combined(name)] * 2))
    # as one group the second prompt ranks above
    ranks = combine_groups(COMBINERS.build("rank_mean", context=CombinerContext()), batch, 6)
    assert ranks[3:].min() > ranks[:3].max()


def test_a_choice_validates_its_combiner():
    assert RewardChoice(("a", "b"), "uwo", {"weight": 2.0}).combiner().config.weight == 2.0
    with pytest.raises(ConfigError, match="unknown reward combiner 'mni'. Did you mean 'min'"):
        RewardChoice(("a", "b"), "mni")
    with pytest.raises(ConfigError, match="'single' takes one reward model"):
        RewardChoice(("a", "b"))
    with pytest.raises(ConfigError, match=r"combine_args\.weight: must be >= 0, got -1\.0"):
        RewardChoice(("a", "b"), "uwo", {"weight": -1.0})


def test_offline_ensemble_takes_any_combiner_from_the_yaml(tiny_models, data_dir, tmp_path):
    data = tiny_run_config(tiny_models, data_dir, tmp_path,
                           method={"name": "offline_ensemble", "args": {"combine": "uwo", "combine_args": {"weight": 1.0}}})
    assert build_run_config(data).method.args["combine"] == "uwo"
    data["method"]["args"] = {"combine": "avg"}
    with pytest.raises(ConfigError, match=r"method.args.combine: unknown reward combiner 'avg'.*Accepted values: agreement, mean, min"):
        build_run_config(data)
    data["method"]["args"] = {"combine": "uwo", "combine_args": {"wieght": 1.0}}
    with pytest.raises(ConfigError, match="unknown key 'method.args.combine_args.wieght'. Did you mean 'weight'"):
        build_run_config(data)
