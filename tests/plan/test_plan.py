"""The memory plan (``harness.plan``): parameter counts against real models and published figures, the placement
against fake GPU budgets (fits / offloads / refuses), ``plan`` on every shipped YAML, the run's resolution of its
memory settings on a CPU, the executors' planned resources and the paper-shape bench at reduced width."""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from peft import LoraConfig as PeftLoraConfig
from peft import get_peft_model
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification

from harness.commands.plan import plan_configs
from harness.config.errors import ConfigError
from harness.config.schema import LoraConfig
from harness.loop.run_config import build_run_config
from harness.plan.activations import trained_activations
from harness.plan.estimate import GIB, Decisions, run_shape, stages
from harness.plan.models import lora_parameters, model_shape, shipped_models
from harness.plan.placement import H100, bench_result_path, choose, device_with_memory
from harness.plan.runtime import resolve_memory
from harness.plan.sweep_plan import plan_runs
from harness.run.execute import execute_run
from harness.sweep.executors.base import planned_resources

from conftest import tiny_run_config

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments"

# The parameter counts the model cards give (exact where the card or the paper's sources give the integer, else to
# the card's three digits); the shipped configs must reproduce them.
PUBLISHED = {
    "meta-llama/Meta-Llama-3-8B": 8_030_261_248,
    "HuggingFaceH4/zephyr-7b-alpha": 7_241_732_096,
    "openbmb/Eurus-7b-kto": 7_241_732_096,
    "Qwen/Qwen1.5-7B-Chat": 7_721_324_544,
    "allenai/OLMo-7B-Instruct-hf": 6_888_095_744,
    "mistralai/Mistral-7B-Instruct-v0.3": 7.25e9,
    "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2": 7.50e9,
    "HuggingFaceTB/SmolLM2-135M-Instruct": 134_515_008,
    "HuggingFaceTB/SmolLM2-360M-Instruct": 361_821_120,
    "gpt2-large": 774_030_080,
    "facebook/roscoe-512-roberta-base": 1.25e8,
    "MoritzLaurer/DeBERTa-v3-large-mnli-fever-anli-ling-wanli": 4.35e8,
}
ROLES = {"Skywork/Skywork-Reward-Llama-3.1-8B-v0.2": "classifier", "MoritzLaurer/DeBERTa-v3-large-mnli-fever-anli-ling-wanli":
         "classifier", "facebook/roscoe-512-roberta-base": "encoder"}
AUTO = {"causal": AutoModelForCausalLM, "classifier": AutoModelForSequenceClassification, "encoder": AutoModel}


def test_every_shipped_config_has_its_published_parameter_count():
    assert set(shipped_models()) == set(PUBLISHED)
    for spec, published in PUBLISHED.items():
        counted = model_shape(spec, ROLES.get(spec, "causal")).parameters
        if isinstance(published, int):
            assert counted == published, spec
        else:
            assert abs(counted - published) / published < 0.005, (spec, counted)


def _reduced(spec: str, folder: Path) -> str:
    """The shipped config at reduced width (same architecture and options), saved where the plan reads it."""
    config = copy.deepcopy(AutoConfig.from_pretrained(ROOT / "harness/plan/model_configs" / spec.replace("/", "--")))
    for key, value in (("hidden_size", 64), ("n_embd", 64), ("intermediate_size", 96), ("n_inner", None),
                       ("num_attention_heads", 4), ("n_head", 4), ("num_hidden_layers", 2), ("n_layer", 2),
                       ("vocab_size", 300), ("pooler_hidden_size", 64)):
        if hasattr(config, key):
            setattr(config, key, value)
    if getattr(config, "num_key_value_heads", None):
        config.num_key_value_heads = 2 if config.num_key_value_heads < 32 else 4
    if getattr(config, "layer_types", None):
        config.layer_types = config.layer_types[:2]
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        if hasattr(config, key):
            setattr(config, key, None)
    target = folder / spec.replace("/", "--")
    config.save_pretrained(target)
    return str(target)


@pytest.mark.parametrize("spec", sorted(PUBLISHED))
def test_planned_parameters_equal_a_real_model_built_from_the_same_config(spec, tmp_path):
    role = ROLES.get(spec, "causal")
    folder = _reduced(spec, tmp_path)
    torch.manual_seed(0)
    real = AUTO[role].from_config(AutoConfig.from_pretrained(folder))
    assert model_shape(folder, role).parameters == sum(p.numel() for p in real.parameters())
    if role == "causal":
        peft = get_peft_model(real, PeftLoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))
        trainable = sum(p.numel() for p in peft.parameters() if p.requires_grad)
        assert lora_parameters(folder, LoraConfig(r=4)) == trainable


def test_kv_cache_bytes_per_token_of_the_paper_models():
    # Llama-3-8B and Mistral-7B: 32 layers x 8 KV heads of 128, bf16 -> 128 KiB a token (shared/notes/paper-scale.md)
    assert model_shape("meta-llama/Meta-Llama-3-8B").kv_bytes_per_token("bfloat16") == 128 * 1024
    assert model_shape("HuggingFaceH4/zephyr-7b-alpha").kv_bytes_per_token("bfloat16") == 128 * 1024
    assert model_shape("Qwen/Qwen1.5-7B-Chat").kv_bytes_per_token("bfloat16") == 512 * 1024  # no grouped-query attention


def test_measured_activations_scale_with_layers_and_shrink_when_checkpointed():
    activations = trained_activations("world:policy", "float32", (16, 0.05, "all-linear"))
    assert activations.per_layer > 10 * activations.per_layer_checkpointed > 0
    no_dropout = trained_activations("world:policy", "float32", (16, 0.0, "all-linear"))
    assert no_dropout.per_layer < activations.per_layer  # LoRA dropout keeps a copy of each adapted layer's input
    tokens = 1000
    assert activations.saved_bytes(tokens, 32, False) > activations.saved_bytes(tokens, 32, True)


def _reasoning_run(method: str = "laser"):
    runs = plan_configs(str(EXPERIMENTS / "reasoning.yaml"), ["seeds=[0]"])
    return next(config for run_id, config in runs if run_id == f"gsm8k/{method}@policy=Llama-3-8B/seed0")


def _usable(gib_usable: float):
    return device_with_memory(gib_usable + 2.0)


def test_an_ample_gpu_keeps_everything_resident_and_decodes_every_row_at_once():
    config = _reasoning_run()
    plan = choose(config, _usable(1000))
    # the largest generate call: an evaluation batch's majority vote, 32 prompts x 30 samples (a step's is 16 x 30)
    assert plan.fits and plan.decisions == Decisions(False, 960, False)
    assert all(stage.peak_bytes <= _usable(1000).budget_bytes for stage in plan.stages)


def test_an_80_gib_gpu_offloads_the_rms_and_checkpoints_and_every_stage_fits():
    config = _reasoning_run()
    plan = choose(config, H100)
    assert plan.fits
    d = plan.decisions
    assert d.offload_reward_models and d.gradient_checkpointing and 30 <= d.generation_rows < 480
    assert d.generation_rows % 30 == 0  # whole prompts per chunk
    assert max(s.peak_bytes for s in plan.stages) <= H100.budget_bytes
    # the rows it chose are the most that fit: one more prompt's rows would not
    more = stages(run_shape(config), dataclasses.replace(d, generation_rows=d.generation_rows + 30))
    assert max(s.peak_bytes for s in more) > H100.budget_bytes
    # the four RMs resident would not fit beside the policy: 4 x ~14 GiB + 15 GiB of policy + the KV cache
    resident = stages(run_shape(config), dataclasses.replace(d, offload_reward_models=False, generation_rows=30))
    assert max(s.peak_bytes for s in resident) > H100.budget_bytes


def test_a_gpu_too_small_for_the_policy_is_refused_naming_the_stage_and_the_missing_gib():
    plan = choose(_reasoning_run(), _usable(20))
    assert not plan.fits and plan.decisions is None
    assert "stage 'train'" in plan.refusal and "GiB more than the 20.0 GiB usable" in plan.refusal


def test_a_setting_the_config_gives_is_kept():
    config = _reasoning_run()
    config = dataclasses.replace(config, memory=dataclasses.replace(config.memory, generation_rows=60))
    assert choose(config, H100).decisions.generation_rows == 60


def test_two_gpus_take_the_rms_when_they_do_not_fit_beside_the_policy():
    config = _reasoning_run()
    config = dataclasses.replace(config, memory=dataclasses.replace(config.memory, offload_reward_models=False))
    one = choose(config, H100, gpus=1)
    two = choose(config, H100, gpus=2)
    assert not one.fits
    assert two.fits and two.gpus == 2 and two.second_gpu
    assert planned_resources(_reasoning_run()).gpus == 1


@pytest.mark.slow
def test_plan_answers_for_every_shipped_yaml_and_reasoning_fits_one_80_gib_gpu():
    paths = sorted(EXPERIMENTS.glob("*.yaml")) + sorted((EXPERIMENTS / "runs").glob("*.yaml"))
    assert len(paths) > 25
    for path in paths:
        groups = plan_runs(plan_configs(str(path), []), device_with_memory(None))
        assert groups, path
        for group in groups:
            assert group.plan.fits or "GiB more than" in group.plan.refusal, (path, group.run_ids[0])
            assert group.plan.stages, (path, group.run_ids[0])
    reasoning = plan_runs(plan_configs(str(EXPERIMENTS / "reasoning.yaml"), []), device_with_memory(80))
    assert all(group.plan.fits for group in reasoning)
    assert sum(len(group.run_ids) for group in reasoning) == 780


@pytest.mark.slow
def test_the_plan_command_prints_a_table_per_plan_and_refuses_in_one_line():
    command = [sys.executable, "-m", "harness", "plan", str(EXPERIMENTS / "reasoning.yaml"), "seeds=[0]", "tasks=[{name: gsm8k, split_sizes: [6750, 750, 1000]}]"]
    ok = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "peak GiB" in ok.stdout and "sweep:" in ok.stdout and "GPU hours" in ok.stdout
    refused = subprocess.run(command + ["--gpu-memory", "20"], capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("error: ") and "stage 'train'" in refused.stderr


def test_a_cpu_run_resolves_every_setting_off_and_keeps_what_the_config_sets():
    runs = plan_configs(str(EXPERIMENTS / "quickstart.yaml"), ["seeds=[0]"])
    config = runs[0][1]
    memory, plan = resolve_memory(config)
    assert plan is None
    assert memory.generation_rows is None and memory.gradient_checkpointing is False and memory.offload_reward_models is False
    forced = dataclasses.replace(config, memory=dataclasses.replace(config.memory, generation_rows=24, gradient_checkpointing=True))
    memory, _ = resolve_memory(forced)
    assert memory.generation_rows == 24 and memory.gradient_checkpointing is True


@pytest.mark.slow
def test_the_paper_shape_bench_runs_one_laser_step_at_reduced_width_on_a_cpu():
    from harness.plan.paper_shape import run_paper_step

    emitted = {}
    result = run_paper_step(lambda name, value, unit="": emitted.__setitem__(name, value))
    assert "reduced width" in emitted["paper_scale_device"]
    assert "16 prompts x 30 samples" in emitted["paper_scale_shape"]
    assert "RMs offloaded" in emitted["paper_scale_plan"] and "gradient checkpointing on" in emitted["paper_scale_plan"]
    for stage in ("embed", "select", "sample", "score", "train", "bandit"):
        assert emitted[f"paper_scale_{stage}_seconds"] > 0
    assert json.loads(emitted["paper_scale_rm_moves"]) == {"moves_in": 1, "moves_out": 1, "gib_in": pytest.approx(
        json.loads(emitted["paper_scale_rm_moves"])["gib_in"])}
    assert emitted["paper_scale_decode_vs_bandwidth_limit"] > 0
    assert set(result["planned_peak_gib"]) >= {"sample", "train", "score"}
    assert result["planned_peak_gib"]["sample"] * GIB > 0


def _run(tiny_models, data_dir, folder: Path, memory: dict) -> tuple[dict, list[dict]]:
    data = tiny_run_config(tiny_models, data_dir, folder, memory=memory)
    data["train"].update({"iterations": 2, "num_samples": 4})
    data["policy"]["lora"]["dropout"] = 0.1
    metrics = execute_run(build_run_config(data), progress=False)
    selections = [json.loads(line) for line in (folder / "run" / "selections.jsonl").read_text().splitlines()]
    return metrics, selections


def test_a_run_with_gradient_checkpointing_trains_exactly_as_one_without(tiny_models, data_dir, tmp_path):
    plain = _run(tiny_models, data_dir, tmp_path / "plain", {})
    checkpointed = _run(tiny_models, data_dir, tmp_path / "checkpointed", {"gradient_checkpointing": True})
    assert [s["loss"] for s in plain[1]] == [s["loss"] for s in checkpointed[1]]
    assert [s["reward_model"] for s in plain[1]] == [s["reward_model"] for s in checkpointed[1]]
    assert plain[0]["test"] == checkpointed[0]["test"]
    assert not (tmp_path / "plain" / "run" / "plan.json").exists()  # a CPU run follows no plan


def test_a_run_decoding_in_chunks_gets_the_same_samples_whatever_the_chunk_size(tiny_models, data_dir, tmp_path):
    one_prompt = _run(tiny_models, data_dir, tmp_path / "rows4", {"generation_rows": 4})
    odd = _run(tiny_models, data_dir, tmp_path / "rows7", {"generation_rows": 7})
    assert [s["loss"] for s in one_prompt[1]] == [s["loss"] for s in odd[1]]
    assert one_prompt[0]["test"] == odd[0]["test"]
    assert all(s["loss"] is not None for s in odd[1])


def test_a_measured_bench_result_corrects_the_time_model_for_that_gpu(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    config = _reasoning_run()
    before = choose(config, H100).step_seconds
    bench_result_path().parent.mkdir(parents=True)
    bench_result_path().write_text(json.dumps({
        "device": H100.name, "reduced": False, "planned_step_seconds": {"sample": 10.0, "train": 20.0},
        "stages": {"sample": {"seconds": 15.0}, "train": {"seconds": 10.0}}}))
    after = choose(config, H100).step_seconds
    assert after["sample"] == pytest.approx(before["sample"] * 1.5)
    assert after["train"] == pytest.approx(before["train"] * 0.5)
    assert after["score"] == pytest.approx(before["score"])
    other = dataclasses.replace(H100, name="another GPU")
    assert choose(config, other).step_seconds == pytest.approx(before)


def test_a_run_on_a_gpu_resolves_its_null_settings_from_the_plan(monkeypatch):
    """The GPU branch of ``resolve_memory``, on a stand-in device: what a run on an 80 GiB H100 would follow."""
    import harness.plan.runtime as runtime

    monkeypatch.setattr(runtime, "pick_device", lambda device: torch.device("cuda"))
    monkeypatch.setattr(runtime, "this_gpu", lambda memory_gib: device_with_memory(memory_gib))
    config = _reasoning_run()
    memory, plan = resolve_memory(config)
    assert plan is not None and plan.fits
    assert memory.offload_reward_models is True and memory.gradient_checkpointing is True
    assert memory.generation_rows == plan.decisions.generation_rows < 480
    given = dataclasses.replace(config, memory=dataclasses.replace(config.memory, gpu_memory_gib=1000.0))
    memory, _ = resolve_memory(given)  # everything fits: the all-at-once sampler, nothing offloaded
    assert memory.generation_rows is None and memory.offload_reward_models is False
    small = dataclasses.replace(config, memory=dataclasses.replace(config.memory, gpu_memory_gib=20.0))
    with pytest.raises(ConfigError, match="memory plan: stage 'train' needs"):
        resolve_memory(small)


def test_a_run_seeing_two_gpus_under_a_two_gpu_plan_puts_its_model_rms_on_the_second(monkeypatch):
    import harness.plan.runtime as runtime

    monkeypatch.setattr(runtime, "pick_device", lambda device: torch.device("cuda"))
    monkeypatch.setattr(runtime, "this_gpu", lambda memory_gib: device_with_memory(memory_gib))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    config = _reasoning_run()
    resident = dataclasses.replace(config, memory=dataclasses.replace(config.memory, offload_reward_models=False))
    followed, plan = runtime.follow_plan(resident)
    assert plan.gpus == 2
    assert [rm.settings["device"] for rm in followed.reward_models] == ["cuda:1"] * 4
    followed, plan = runtime.follow_plan(config)  # offloading fits one GPU: the RMs stay where configured
    assert plan.gpus == 1 and all("device" not in rm.settings for rm in followed.reward_models)
