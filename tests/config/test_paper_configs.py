"""The paper-result configs' small variants (experiments/*_small.yaml that extend small_world.yaml), run end to
end on the quickstart's world: bandits, MAB reward, pool changes, correctness as an arm, the agreement
ensemble, losses (Table 6), out-of-distribution tests (Table 7), the alpha and embedding ablations, reward noise (Fig. 3),
ROSCOE metrics as the arms (Table 5, Fig. 8); plus ``extends`` itself (merging, a loop, a missing parent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.config.errors import ConfigError
from harness.config.parse import apply_override
from harness.sweep.expand import expand, load_sweep

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
SMALL = ["bandits_small", "mab_reward_small", "add_rm_small", "correctness_arm_small", "ensembles_small", "losses_small",
         "ood_small", "ablations_small", "ablations_embedding_small", "noise_small", "roscoe_small"]
REPORTED = ("bandits_small", "losses_small", "ood_small", "ablations_small", "ablations_embedding_small", "noise_small",
            "roscoe_small")  # the others' outputs are checked in their runs


def _steps(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "selections.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def small_runs(default_world, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("paper_small")
    for name in SMALL:
        report = [] if name in REPORTED else ["--no-report"]
        assert main(["sweep", str(EXPERIMENTS / f"{name}.yaml"), "--out", str(out), *report]) == 0, name
    return out


def test_every_small_variant_extends_the_small_world_and_its_paper_config_exists():
    for name in SMALL:
        sweep = load_sweep(EXPERIMENTS / f"{name}.yaml")
        assert sweep.base["policy"]["model"] == "world:policy" and sweep.base["profile"] is None
        assert sweep.base["train"]["iterations"] == 2 and sweep.seeds == [0]
        paper = EXPERIMENTS / f"{name.removesuffix('_small')}.yaml"
        assert paper.exists() or name == "ensembles_small", paper  # the ensembles are reasoning.yaml's rows
    reasoning = load_sweep(EXPERIMENTS / "reasoning.yaml")
    assert "agreement_ensemble" in [m.name for m in reasoning.methods]


@pytest.mark.slow
def test_bandits_small_runs_three_bandits_and_reports_them(small_runs):
    root = small_runs / "bandits_small"
    for label in ("laser-linucb", "laser-exp3", "laser-neuralucb"):
        steps = _steps(root / "synth_mix" / label / "seed0")
        assert len(steps) == 6 and all(0.0 <= s["mab_reward"] <= 1.0 for s in steps if s["loss"] is not None)
    table = (root / "report" / "table1.md").read_text()
    assert "LASeR [laser-neuralucb]" in table and "LASeR [laser-exp3]" in table
    assert "laser-linucb" in (root / "report" / "wilcoxon.md").read_text()


def test_mab_reward_small_learns_from_the_accuracy_gain_and_the_reward_spread(small_runs):
    root = small_runs / "mab_reward_small" / "synth_mix"
    gains = _steps(root / "laser-accuracy-difference" / "seed0")
    assert all(s["accuracy_after"] is not None and 0.0 <= s["accuracy_after"] <= 1.0 for s in gains if s["num_pairs"])
    assert all("accuracy_after" not in s and "reward_spread" not in s for s in _steps(root / "laser-negative-loss" / "seed0"))
    spread = _steps(root / "laser-reward-spread" / "seed0")  # the raw spread beside the scaled reward, no gold needed
    assert all(0.0 <= s["reward_spread"] <= 1.0 and "accuracy_after" not in s for s in spread)
    assert all(0.0 <= s["mab_reward"] <= 1.0 for s in spread if s["loss"] is not None)


def test_add_rm_small_changes_the_pool_at_iteration_two(small_runs):
    root = small_runs / "add_rm_small" / "synth_mix"
    joined = _steps(root / "laser-add-generalist" / "seed0")
    assert all(s["arms"] == ["rm_count", "rm_facts", "rm_choice"] and s["reward_model"] != "rm_generalist"
               for s in joined if s["iteration"] == 1)
    assert all(s["arms"][-1] == "rm_generalist" and s["pool_events"] == ["join:rm_generalist"]
               for s in joined if s["iteration"] == 2)
    reset = _steps(root / "laser-reset-count" / "seed0")
    assert [s["pool_events"] for s in reset] == [[]] * 3 + [["reset:rm_count"]] * 3
    assert "arms" not in _steps(root / "laser" / "seed0")[0]


def test_correctness_arm_small_has_the_gold_reward_among_the_arms(small_runs):
    root = small_runs / "correctness_arm_small" / "synth_mix"
    config = json.loads((root / "laser-with-correctness" / "seed0" / "config.json").read_text())["config"]
    assert [rm["name"] for rm in config["reward_models"]][-1] == "correctness"
    assert {s["reward_model"] for s in _steps(root / "correctness" / "seed0")} == {"correctness"}
    assert (root / "laser" / "seed0" / "metrics.json").exists()


def test_ensembles_small_agreement_pairs_are_those_all_rms_agree_on(small_runs):
    root = small_runs / "ensembles_small" / "synth_mix"
    agree, mean = (_steps(root / label / "seed0") for label in ("agreement_ensemble", "offline_ensemble"))
    assert agree[0]["reward_model"] == "agreement(rm_count+rm_facts+rm_choice+rm_generalist)"
    # the same samples at the first step (the untrained policy, the same seed): agreement keeps a subset
    assert agree[0]["num_pairs"] <= mean[0]["num_pairs"] and agree[0]["skipped_prompts"] >= mean[0]["skipped_prompts"]


def test_losses_small_fills_table6_with_each_loss_and_method(small_runs):
    table = (small_runs / "losses_small" / "report" / "table6.md").read_text()
    for loss in ("NLL", "DPO", "KTO", "DPO_NLL"):
        assert f"| {loss} / LASeR (Ours) |" in table and f"| {loss} / Sequential RM Selection |" in table
    config = json.loads((small_runs / "losses_small" / "synth_mix" / "laser@train.loss=kto" / "seed0" / "config.json").read_text())
    assert config["config"]["train"]["loss"] == "kto"


def test_ood_small_tests_every_run_on_the_families_it_never_trained_on(small_runs):
    root = small_runs / "ood_small"
    for label in ("base", "laser", "random_rm"):
        metrics = json.loads((root / "synth_count" / label / "seed0" / "metrics.json").read_text())
        assert {"synth_facts", "synth_choice"} <= set(metrics["ood"])
        assert all(result["num_examples"] == 20 for result in metrics["ood"].values())
    table = (root / "report" / "table7.md").read_text()
    assert "synth_facts" in table and "synth_choice" in table and "LASeR (Ours)" in table


def test_the_ablations_fill_their_tables_and_alpha_reaches_the_bandit(small_runs):
    root = small_runs / "ablations_small"
    table = (root / "report" / "alpha_ablation.md").read_text()
    assert all(f"| alpha {alpha} / LASeR (Ours) |" in table for alpha in ("0.0", "0.5", "1.0"))
    for alpha in ("0.0", "1.0"):
        checkpoint_config = json.loads((root / "synth_mix" / f"laser@method.args.alpha={alpha}" / "seed0" / "config.json").read_text())
        assert checkpoint_config["config"]["method"]["args"]["alpha"] == float(alpha)
    table = (small_runs / "ablations_embedding_small" / "report" / "embedding_ablation.md").read_text()
    assert all(f"| LASeR (Ours) ({pooling}) |" in table for pooling in ("first", "mean", "last"))


def test_noise_small_sets_every_rms_sigma_from_one_axis_and_draws_fig3(small_runs):
    root = small_runs / "noise_small"
    config = json.loads((root / "synth_mix" / "laser@reward_models.-.sigma=0.4" / "seed0" / "config.json").read_text())["config"]
    sigmas = {rm["name"]: rm.get("sigma") for rm in config["reward_models"]}
    assert sigmas == {"rm_count_clean": None, "rm_facts_clean": None, "rm_choice_clean": None, "rm_generalist_clean": None,
                      "rm_count": 0.4, "rm_facts": 0.4, "rm_choice": 0.4, "rm_generalist": 0.4}
    points = (root / "report" / "fig_accuracy_vs_noise.csv").read_text().splitlines()
    assert len(points) == 1 + 3 * 2 and (root / "report" / "fig_accuracy_vs_noise.png").exists()


def test_roscoe_small_trains_on_roscoe_metrics_and_reports_table5s_rows(small_runs):
    root = small_runs / "roscoe_small"
    config = json.loads((root / "synth_mix" / "laser" / "seed0" / "config.json").read_text())["config"]
    metrics = {rm["name"]: rm["metric"] for rm in config["reward_models"] if rm["kind"] == "roscoe"}
    assert len(metrics) == len(config["reward_models"]) == 7 and "coherence" not in metrics.values()
    relevant = set(metrics) - {"perplexity"}
    for label, allowed in (("laser", set(metrics)), ("random_rm", set(metrics)), ("sequential_rm", set(metrics)),
                           ("laser-without-perplexity", relevant), ("sequential_rm-without-perplexity", relevant),
                           ("base+perplexity", {"perplexity"}), ("base+informativeness", {"informativeness"})):
        steps = _steps(root / "synth_mix" / label / "seed0")
        assert len(steps) == 6 and {s["reward_model"] for s in steps} <= allowed, label
        assert all(0.0 <= s["mean_score"] <= 1.0 for s in steps), label  # ROSCOE scores are in [0, 1]
    assert {s["reward_model"] for s in _steps(root / "synth_mix" / "sequential_rm" / "seed0")} == {"informativeness", "faithfulness"}
    table = (root / "report" / "table1.md").read_text()
    assert all(row in table for row in ("| LASeR (Ours) |", "| Random RM Selection |", "| Sequential RM Selection |",
                                         "| LASeR [laser-without-perplexity] |"))
    singles = (root / "report" / "table4.md").read_text()
    assert "| RM: perplexity |" in singles and "| RM: informativeness |" in singles


def test_a_wildcard_override_needs_an_element_with_the_key():
    data = {"reward_models": [{"name": "a", "kind": "loglik"}, {"name": "b", "kind": "noisy", "sigma": 0.0}]}
    apply_override(data, "reward_models.*.sigma", 0.3)
    assert data["reward_models"] == [{"name": "a", "kind": "loglik"}, {"name": "b", "kind": "noisy", "sigma": 0.3}]
    with pytest.raises(ConfigError, match=r"override 'reward_models.\*.temperature': no element of the list has 'temperature'"):
        apply_override(data, "reward_models.*.temperature", 1.0)


def test_extends_merges_mappings_and_replaces_lists(tmp_path):
    (tmp_path / "parent.yaml").write_text((EXPERIMENTS / "quickstart.yaml").read_text())
    (tmp_path / "child.yaml").write_text("extends: parent.yaml\nname: child\nbase: {train: {iterations: 1}}\n"
                                         "methods: [{name: base}]\n")
    sweep = load_sweep(tmp_path / "child.yaml")
    assert sweep.name == "child" and [m.name for m in sweep.methods] == ["base"]
    assert sweep.base["train"]["iterations"] == 1 and sweep.base["train"]["batch_size"] == 12  # merged
    assert len(expand(sweep, tmp_path / "out", check_data=False)) == 5
    (tmp_path / "loop.yaml").write_text("extends: loop2.yaml\nname: a\n")
    (tmp_path / "loop2.yaml").write_text("extends: loop.yaml\nname: b\n")
    with pytest.raises(ConfigError, match=r"loop2.yaml: extends: loop.yaml leads back to itself"):
        load_sweep(tmp_path / "loop.yaml")
    (tmp_path / "orphan.yaml").write_text("extends: nowhere.yaml\nname: c\n")
    with pytest.raises(ConfigError, match=r"orphan.yaml: extends: nowhere.yaml not found"):
        load_sweep(tmp_path / "orphan.yaml")
