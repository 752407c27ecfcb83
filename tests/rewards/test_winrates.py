"""Win rates: equal to alpaca_eval's own functions on fixture annotations; 50% for a model against itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.rewards.judges.winrates import GLM_V1, MINIMAL, _df_gamed_from, minimal_lc_winrate, winrates

from conftest import write_df_gamed_stand_in


def fixture_annotations(n: int = 60, seed: int = 0, length_bias: float = 1.0, extra_length: int = 0) -> list[dict]:
    """A judge that mildly prefers longer outputs, on n prompts with AlpacaEval-style indices."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        a, b = "x" * int(rng.integers(20, 400)), "y" * (int(rng.integers(20, 400)) + extra_length)
        p_first = 1 / (1 + np.exp(length_bias * (len(b) - len(a)) / 150))
        rows.append({"instruction": f"instruction {i}", "output_1": a, "generator_1": "baseline", "output_2": b,
                     "generator_2": "laser", "annotator": "fixture", "index": i,
                     "preference": float(np.clip(2 - p_first + rng.normal(0, 0.15), 1, 2))})
    return rows


@pytest.fixture
def df_gamed(tmp_path):
    return write_df_gamed_stand_in(tmp_path / "df_gamed.csv")


def test_raw_winrate_is_alpaca_evals(capsys):
    from alpaca_eval.metrics import get_winrate

    annotations = fixture_annotations()
    assert winrates(annotations, "none")["win_rate"] == pytest.approx(get_winrate(annotations)["win_rate"])
    assert winrates(annotations, "none")["lc_variant"] is None


def test_minimal_lc_equals_alpaca_evals_function(df_gamed):
    from alpaca_eval.metrics.glm_winrate import get_length_controlled_winrate

    annotations = fixture_annotations(extra_length=150)
    with _df_gamed_from(df_gamed):  # its featurisation reads the file even for the length-only formula
        expected = get_length_controlled_winrate(pd.DataFrame(annotations), glm_name=MINIMAL, save_weights_dir=None)
    ours = winrates(annotations, "minimal")
    assert ours["length_controlled_winrate"] == pytest.approx(expected["length_controlled_winrate"], abs=1e-9)
    assert ours["lc_variant"] == MINIMAL
    # the judge prefers longer outputs and output_2 is longer: length control lowers its win rate
    assert ours["length_controlled_winrate"] < ours["win_rate"] - 5


def test_glm_v1_is_alpaca_evals_function_when_its_data_is_there(df_gamed):
    from alpaca_eval.metrics.glm_winrate import get_length_controlled_winrate

    annotations = fixture_annotations()
    with _df_gamed_from(df_gamed):
        expected = get_length_controlled_winrate(pd.DataFrame(annotations), glm_name=GLM_V1, save_weights_dir=None)
    ours = winrates(annotations, "auto", on_alpaca_eval=True, df_gamed=df_gamed)
    assert ours["lc_variant"] == GLM_V1
    assert ours["length_controlled_winrate"] == pytest.approx(expected["length_controlled_winrate"], abs=1e-9)
    # off AlpacaEval's prompts, or without the file, "auto" falls back to the length-only formula
    assert winrates(annotations, "auto", on_alpaca_eval=False, df_gamed=df_gamed)["lc_variant"] == MINIMAL
    assert winrates(annotations, "auto", on_alpaca_eval=True, df_gamed=df_gamed + ".missing")["lc_variant"] == MINIMAL
    with pytest.raises(ValueError, match="AlpacaEval"):
        winrates(annotations, "glm", on_alpaca_eval=False)


def test_a_policy_against_itself_is_fifty_percent():
    annotations = fixture_annotations()
    self_comparison = [{**a, "output_2": a["output_1"], "generator_2": "baseline", "preference": 1.5} for a in annotations]
    result = winrates(self_comparison)
    assert result["win_rate"] == pytest.approx(50.0) and result["length_controlled_winrate"] == pytest.approx(50.0)
    # same outputs under two names, judged a tie each time (as a both-orders judge does): also 50%
    renamed = [{**a, "generator_2": "copy"} for a in self_comparison]
    assert minimal_lc_winrate(renamed) == pytest.approx(50.0, abs=1e-6)
