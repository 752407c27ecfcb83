"""``python -m harness bench --only paper-scale``: one LASeR step at the paper's shapes, timed and measured stage by
stage beside the memory plan's prediction, with no download.

The models are built with random weights from the shipped configs (Llama-3-8B as the policy, a Mistral-7B-shaped
and a Qwen1.5-7B-shaped loglik RM), directly on the device in bf16. The step is the loop's own code: the batch
embedding and LinUCB's choice, ``Policy.generate`` (16 prompts x 30 samples, chunked as planned), the chosen RM
scoring every sample (moved in from pinned CPU memory when the plan offloads, one swap), 10 pairs per prompt, one
DPO+NLL update of the LoRA adapter (checkpointed as planned), and the bandit's update. Decoding is compared with
the memory-bandwidth limit: each token step must read the weights and the chunk's KV cache once; the bandwidth is
measured on the device (a large copy) rather than taken from a data sheet.

On a CPU the same code runs at reduced width (hidden size / 32, two layers, a 4,096-token vocabulary, 64-token
prompts, 32 new tokens) and says so: the figures then check the code path and the plan's arithmetic, not a GPU.
A GPU's result is kept (``<cache>/bench/paper_scale.json``) so that ``plan`` corrects its time model with it.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoConfig, PreTrainedTokenizerFast

from harness.common.files import write_json_atomic
from harness.config.schema import MemoryConfig, MethodConfig, PolicyConfig, RewardModelConfig, RunConfig, TaskConfig, TrainConfig
from harness.loop.train_step import PairTokens, PreferenceTrainer
from harness.models.loading import DTYPES
from harness.models.placement import ModelPlacement
from harness.models.policy import Policy
from harness.plan.estimate import GIB
from harness.plan.models import empty_model, model_shape, shipped_config_folder
from harness.plan.placement import H100, Device, bench_result_path, choose
from harness.rewards.base import ModelScorerConfig
from harness.rewards.loglik import LogLikelihoodRM
from harness.rewards.offloaded import OffloadedRM
from harness.rewards.pairs import sample_pairs
from harness.selection.method import BatchContext, MethodContext, StepFeedback
from harness.selection.registry import build_method

POLICY, REWARD_MODELS = "meta-llama/Meta-Llama-3-8B", {"zephyr": "HuggingFaceH4/zephyr-7b-alpha", "qwen": "Qwen/Qwen1.5-7B-Chat"}


@dataclass(frozen=True)
class BenchShape:
    prompts: int = 16
    samples: int = 30
    prompt_tokens: int = 256
    new_tokens: int = 512
    pairs_per_prompt: int = 10
    micro_batch_pairs: int = 8
    reduced: bool = False     # a CPU: hidden / 32, two layers, vocabulary 4,096


GPU_SHAPE = BenchShape()
CPU_SHAPE = BenchShape(prompt_tokens=64, new_tokens=32, reduced=True)


def word_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """One word per token id ("t1234"), so a random model's tokens survive decoding and re-encoding by an RM (whose
    vocabulary may be smaller: its unknown words are one token each): texts keep their lengths in tokens."""
    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2, **{f"t{i}": i for i in range(3, vocab_size)}}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


def _model_folder(spec: str, root: Path, reduced: bool) -> str:
    """A folder with ``spec``'s shipped config (reduced in width on a CPU), which the plan reads as a local model."""
    config = AutoConfig.from_pretrained(shipped_config_folder(spec))
    if reduced:
        config = copy.deepcopy(config)
        config.hidden_size //= 32
        config.intermediate_size //= 32
        config.num_attention_heads = max(1, config.num_attention_heads // 8)
        config.num_key_value_heads = max(1, config.num_key_value_heads // 8)
        if getattr(config, "head_dim", None):
            config.head_dim = config.hidden_size // config.num_attention_heads
        config.num_hidden_layers = 2
        if getattr(config, "layer_types", None):
            config.layer_types = config.layer_types[:2]
        config.vocab_size = 4096
        for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
            setattr(config, key, None)
    folder = root / spec.replace("/", "--")
    config.save_pretrained(folder)
    word_tokenizer(config.vocab_size).save_pretrained(folder)
    return str(folder)


def _random_model(folder: str, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """Random weights of the folder's config, allocated on ``device`` directly (no CPU copy of a 16 GB model)."""
    model = empty_model(AutoConfig.from_pretrained(folder), device, dtype)
    generator = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.fill_(1.0)
            else:
                parameter.normal_(0.0, 0.02, generator=generator)
    return model.eval()


def _run_config(folders: dict[str, str], shape: BenchShape, dtype: str, memory: MemoryConfig) -> RunConfig:
    return RunConfig(
        method=MethodConfig(name="laser"), task=TaskConfig(name="gsm8k", split_sizes=[shape.prompts, 0, 0]),
        policy=PolicyConfig(model=folders["policy"], dtype=dtype, max_prompt_tokens=shape.prompt_tokens),
        reward_models=[RewardModelConfig(name, "loglik", {"model": folders[name], "dtype": dtype}) for name in REWARD_MODELS],
        train=TrainConfig(iterations=1, batch_size=shape.prompts, num_samples=shape.samples, max_new_tokens=shape.new_tokens,
                          pairs_per_prompt=shape.pairs_per_prompt, micro_batch_size=shape.micro_batch_pairs),
        memory=memory)


class StageMeter:
    """Seconds and peak memory of each stage (the GPU's allocator peak; on a CPU, seconds only)."""

    def __init__(self, device: torch.device):
        self.device, self.rows = device, {}

    def __call__(self, stage: str, fn: Callable[[], Any]) -> Any:
        cuda = self.device.type == "cuda"
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        result = fn()
        if cuda:
            torch.cuda.synchronize()
        self.rows[stage] = {"seconds": time.perf_counter() - start,
                            "peak_gib": torch.cuda.max_memory_allocated() / GIB if cuda else None}
        return result


def copy_bandwidth(device: torch.device) -> float:
    """Bytes per second the device moves in a large copy (read + write)."""
    source = torch.empty(2 ** 28 if device.type == "cuda" else 2 ** 26, dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    target.copy_(source)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(5):
        target.copy_(source)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 5 * 2 * source.numel() / (time.perf_counter() - start)


def run_paper_step(emit: Callable[[str, Any, str], None]) -> dict[str, Any]:
    """Build, plan, run one step; ``emit(name, value, unit)`` prints each figure."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    shape = GPU_SHAPE if device.type == "cuda" else CPU_SHAPE
    dtype = "bfloat16" if device.type == "cuda" else "float32"
    root = Path(tempfile.mkdtemp(prefix="harness_paper_scale_"))
    folders = {"policy": _model_folder(POLICY, root, shape.reduced)}
    folders.update({name: _model_folder(spec, root, shape.reduced) for name, spec in REWARD_MODELS.items()})
    # a CPU forces the plan's switches on, so that the code path is the one a GPU plan takes for the paper
    forced = MemoryConfig() if device.type == "cuda" else MemoryConfig(generation_rows=4 * shape.samples,
                                                                       gradient_checkpointing=True, offload_reward_models=True)
    config = _run_config(folders, shape, dtype, forced)
    memory_gib = torch.cuda.get_device_properties(device).total_memory / GIB if device.type == "cuda" else H100.memory_gib
    plan_device = Device(torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu", memory_gib,
                         H100.bf16_flops, H100.bandwidth)
    plan = choose(config, plan_device)
    decisions = plan.decisions
    emit("paper_scale_device", f"{plan_device.name}" + (" (reduced width: hidden / 32, 2 layers, vocabulary 4,096)"
                                                       if shape.reduced else ""), "")
    emit("paper_scale_shape", f"{shape.prompts} prompts x {shape.samples} samples, {shape.prompt_tokens}-token prompts, "
                              f"{shape.new_tokens} new tokens, {shape.pairs_per_prompt} pairs per prompt, DPO+NLL", "")
    emit("paper_scale_plan", f"RMs {'offloaded' if decisions.offload_reward_models else 'resident'}, "
                             f"{decisions.generation_rows} rows decoded together, gradient checkpointing "
                             f"{'on' if decisions.gradient_checkpointing else 'off'}", "")
    torch_dtype = DTYPES[dtype]
    tokenizers = {name: PreTrainedTokenizerFast.from_pretrained(folder) for name, folder in folders.items()}
    policy = Policy(config.policy, model=_random_model(folders["policy"], device, torch_dtype), tokenizer=tokenizers["policy"])
    all_rows = shape.prompts * shape.samples
    policy.use_memory_settings(MemoryConfig(generation_rows=decisions.generation_rows if decisions.generation_rows < all_rows else None,
                                            gradient_checkpointing=decisions.gradient_checkpointing))
    placement = ModelPlacement(compute=device) if decisions.offload_reward_models else None
    pool = {}
    for name in REWARD_MODELS:
        model = _random_model(folders[name], device, torch_dtype).requires_grad_(False)
        rm = LogLikelihoodRM(name, ModelScorerConfig(model=folders[name], dtype=dtype, chat_template=False), model, tokenizers[name])
        if placement is not None:
            model.to(placement.home)
            placement.adopt(model, name)
            rm = OffloadedRM(rm, placement, [model])
        pool[name] = rm
    if device.type == "cuda":
        torch.cuda.empty_cache()
    method = build_method("laser", {"bandit": "linucb", "alpha": 0.5}, MethodContext(tuple(REWARD_MODELS), seed=0))
    trainer = PreferenceTrainer(policy, config.train)
    rng = np.random.default_rng(0)
    vocab = min(tokenizer.vocab_size for tokenizer in tokenizers.values())  # words every RM knows
    prompt_ids = [[int(t) for t in rng.integers(3, vocab, shape.prompt_tokens)] for _ in range(shape.prompts)]
    prompts = [policy.decode(ids) for ids in prompt_ids]
    meter = StageMeter(device)
    context = BatchContext(0, 0, 0, 1, prompts)
    context.embedding = meter("embed", lambda: policy.embed(prompt_ids)).mean(axis=0)
    choice = meter("select", lambda: method.select(context))
    samples = meter("sample", lambda: policy.generate(prompt_ids, shape.samples, do_sample=True, temperature=0.8,
                                                      max_new_tokens=shape.new_tokens, seed=0))
    rm = pool[choice.reward_models[0]]
    flat_prompts = [p for p, group in zip(prompts, samples) for _ in group]
    flat_texts = [s.text for group in samples for s in group]
    scores = meter("score", lambda: np.asarray(rm.score(flat_prompts, flat_texts))).reshape(shape.prompts, shape.samples)
    pairs = sample_pairs(scores.tolist(), shape.pairs_per_prompt, rng, [[tuple(s.token_ids) for s in g] for g in samples])
    items = [PairTokens(prompt_ids[p.prompt_index], samples[p.prompt_index][p.chosen].completion_ids,
                        samples[p.prompt_index][p.rejected].completion_ids) for p in pairs.pairs]
    loss = meter("train", lambda: trainer.step(items))
    meter("bandit", lambda: method.feedback(context, choice, StepFeedback(loss.mean, len(items), pairs.skipped_prompts)))
    planned = {stage.name: stage.peak_gib for stage in plan.stages}
    planned["score"] = planned.get(f"score {choice.reward_models[0]}")
    for stage, row in meter.rows.items():
        emit(f"paper_scale_{stage}_seconds", row["seconds"], "s")
        if row["peak_gib"] is not None:
            emit(f"paper_scale_{stage}_peak_gib", row["peak_gib"], "GiB")
        if stage in planned:
            emit(f"paper_scale_{stage}_planned_peak_gib", planned[stage], "GiB")
            if row["peak_gib"] is not None and planned[stage]:
                emit(f"paper_scale_{stage}_peak_vs_plan", row["peak_gib"] / planned[stage], "x")
    bandwidth = copy_bandwidth(device)
    mean_new = sum(len(s.completion_ids) for g in samples for s in g) / max(1, all_rows)
    chunk = min(decisions.generation_rows, all_rows)
    chunks = -(-all_rows // chunk)
    policy_shape = model_shape(folders["policy"])  # the plan's own figures for what a token step reads
    weight_bytes, kv_bytes = policy_shape.weight_bytes(dtype), policy_shape.kv_bytes_per_token(dtype)
    steps = shape.new_tokens
    floor = chunks * steps * weight_bytes / bandwidth + all_rows * steps * (shape.prompt_tokens + mean_new / 2) * kv_bytes / bandwidth
    emit("paper_scale_copy_bandwidth", bandwidth / 1e9, "GB/s")
    emit("paper_scale_decode_vs_bandwidth_limit", meter.rows["sample"]["seconds"] / floor, "x")
    emit("paper_scale_step_seconds", sum(row["seconds"] for row in meter.rows.values()), "s")
    if placement is not None:
        emit("paper_scale_rm_moves", json.dumps(placement.summary()), "")
    result = {"device": plan_device.name, "reduced": shape.reduced, "shape": shape.__dict__, "stages": meter.rows,
              "planned_peak_gib": planned, "planned_step_seconds": plan.step_seconds,
              "decode_vs_bandwidth_limit": meter.rows["sample"]["seconds"] / floor}
    if device.type == "cuda":
        write_json_atomic(bench_result_path(), result)
    return result
