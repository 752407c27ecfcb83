"""Reward models behind one interface: ``score(prompts, responses, references=None) -> list[float]``.

Kinds (``python -m harness ls``):
- ``loglik``: mean token log-likelihood of the response given the prompt under a causal LM, the
  reference-free RewardBench recipe the paper uses (appendix A.1). The RM's EOS token is appended to
  each response, so the score is the likelihood of the response *as a complete answer* (and an empty
  response still has one scored token);
- ``implicit``: beta * (log pi(y|x) - log pi_ref(y|x)), how RewardBench scores DPO-trained models;
- ``classifier``: the scalar head of a sequence-classification reward model;
- ``correctness``: 1.0 when the answer extracted from the response equals the gold answer, else 0.0;
- ``noisy``: another RM's scores plus N(0, sigma) noise (paper sec. 5).
Scoring is batched by a token budget, longest first, so padding waste stays small. A new kind is one
``RewardModel`` subclass with ``from_config`` (and ``description``) plus one line in ``RM_KINDS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

from harness.config import RewardModelConfig
from harness.logprobs import completion_logps, make_token_batch, shared_prompt_logps, token_budget_batches
from harness.models import chat_prompt_ids, load_causal_lm, load_sequence_classifier, load_tokenizer, model_device, truncate_tokens
from harness.registry import Registry
from harness.seeding import stable_seed


class RewardModel:
    """Scores responses to prompts; higher is better. ``references`` carries gold answers when needed."""

    name: str = ""
    needs_references: bool = False
    description: str = ""
    cacheable: bool = False  # deterministic in (prompt, response): scores may be shared between runs

    @classmethod
    def from_config(cls, config: RewardModelConfig, context: "BuildContext") -> "RewardModel":
        raise NotImplementedError

    @staticmethod
    def depends_on(config: RewardModelConfig) -> str | None:
        """The name of another RM this one wraps (built first), if any."""
        return None

    def score(self, prompts: Sequence[str], responses: Sequence[str],
              references: Sequence[Any] | None = None) -> list[float]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def shorten_prompt(tokenizer, prompt: str, max_tokens: int | None) -> str:
    """The prompt with its middle cut to at most ``max_tokens`` tokens (as LongBench truncates)."""
    if max_tokens is None:
        return prompt
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    if len(ids) <= max_tokens:
        return prompt
    return tokenizer.decode(truncate_tokens(ids, max_tokens, "middle"), skip_special_tokens=False)


def _encode_pairs(tokenizer, prompts: Sequence[str], responses: Sequence[str], chat_template: bool,
                  append_eos: bool = True, max_prompt_tokens: int | None = None) -> tuple[list[list[int]], list[list[int]]]:
    prompt_ids, response_ids = [], []
    eos = [tokenizer.eos_token_id] if append_eos and tokenizer.eos_token_id is not None else []
    for prompt, response in zip(prompts, responses):
        prompt = shorten_prompt(tokenizer, prompt, max_prompt_tokens)
        if chat_template:
            prompt_ids.append(chat_prompt_ids(tokenizer, prompt))
        else:
            prompt_ids.append(tokenizer(prompt, add_special_tokens=True)["input_ids"])
        response_ids.append(tokenizer(response, add_special_tokens=False)["input_ids"] + eos)
    return prompt_ids, response_ids


# A prompt is encoded once for all its responses only from this length on: below it, the two extra forward
# calls per prompt cost more than they save (measured: 32 prompts x 4 responses on the quickstart's tiny RM,
# 30- and 120-token prompts, shared 0.18 s vs batched 0.04 / 0.11 s; SmolLM2 with a 1,024-token prompt and
# 8 responses, shared 5.8 s vs 31.2 s).
SHARED_PROMPT_MIN_TOKENS = 256


@torch.no_grad()
def sequence_logps(model: torch.nn.Module, pad_id: int, prompt_ids: Sequence[list[int]], response_ids: Sequence[list[int]],
                   batch_tokens: int, share_prompts: bool = True,
                   share_min_tokens: int = SHARED_PROMPT_MIN_TOKENS) -> tuple[np.ndarray, np.ndarray]:
    """Summed response log-probs and response lengths for every pair, batched by a token budget. Responses
    to the same long prompt (the n samples of a long-context prompt) share one pass over the prompt when
    ``share_prompts`` and the prompt has at least ``share_min_tokens`` tokens."""
    sums, counts = np.zeros(len(prompt_ids)), np.zeros(len(prompt_ids))
    device = model_device(model)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, prompt in enumerate(prompt_ids):
        groups.setdefault(tuple(prompt), []).append(i)
    single = []
    for prompt, members in groups.items():
        if not share_prompts or len(members) < 2 or len(prompt) < max(2, share_min_tokens):
            single += members
            continue
        longest = max(len(response_ids[i]) for i in members) + 1
        size = max(1, batch_tokens // (len(prompt) + longest))
        for start in range(0, len(members), size):
            chunk = members[start:start + size]
            chunk_sums, chunk_counts = shared_prompt_logps(model, prompt, [response_ids[i] for i in chunk], pad_id)
            sums[chunk] = chunk_sums.double().cpu().numpy()
            counts[chunk] = chunk_counts.cpu().numpy()
    lengths = [len(prompt_ids[i]) + len(response_ids[i]) for i in single]
    for positions in token_budget_batches(lengths, batch_tokens):
        indices = [single[j] for j in positions]
        batch = make_token_batch([prompt_ids[i] for i in indices], [response_ids[i] for i in indices], pad_id, device)
        batch_sums, batch_counts = completion_logps(model, batch)
        sums[indices] = batch_sums.double().cpu().numpy()
        counts[indices] = batch_counts.cpu().numpy()
    return sums, counts


class LogLikelihoodRM(RewardModel):
    description = "mean token log-likelihood of the response under a causal LM (paper's RewardBench recipe)"
    cacheable = True

    @classmethod
    def from_config(cls, config, context):
        return cls(config, context.causal_lm(config.model, config), context.tokenizer(config.model))

    def __init__(self, config: RewardModelConfig, model: torch.nn.Module, tokenizer):
        self.name, self.config, self.model, self.tokenizer = config.name, config, model, tokenizer

    def score(self, prompts, responses, references=None):
        prompt_ids, response_ids = _encode_pairs(self.tokenizer, prompts, responses, self.config.chat_template,
                                                 max_prompt_tokens=self.config.max_prompt_tokens)
        sums, counts = sequence_logps(self.model, self.tokenizer.pad_token_id, prompt_ids, response_ids, self.config.batch_tokens)
        return (sums / np.maximum(counts, 1)).tolist()


class ImplicitRM(RewardModel):
    description = "beta * (log pi(y|x) - log pi_ref(y|x)) of a DPO-trained model against its reference"
    cacheable = True

    @classmethod
    def from_config(cls, config, context):
        return cls(config, context.causal_lm(config.model, config), context.causal_lm(config.reference, config),
                   context.tokenizer(config.model))

    def __init__(self, config: RewardModelConfig, model: torch.nn.Module, reference: torch.nn.Module, tokenizer):
        self.name, self.config = config.name, config
        self.model, self.reference, self.tokenizer = model, reference, tokenizer

    def score(self, prompts, responses, references=None):
        prompt_ids, response_ids = _encode_pairs(self.tokenizer, prompts, responses, self.config.chat_template,
                                                 max_prompt_tokens=self.config.max_prompt_tokens)
        pad = self.tokenizer.pad_token_id
        policy, _ = sequence_logps(self.model, pad, prompt_ids, response_ids, self.config.batch_tokens)
        reference, _ = sequence_logps(self.reference, pad, prompt_ids, response_ids, self.config.batch_tokens)
        return (self.config.beta * (policy - reference)).tolist()


class ClassifierRM(RewardModel):
    description = "scalar output of a sequence-classification reward model"
    cacheable = True

    @classmethod
    def from_config(cls, config, context):
        model = load_sequence_classifier(config.model, config.dtype, config.device).requires_grad_(False)
        return cls(config, model, context.tokenizer(config.model))

    def __init__(self, config: RewardModelConfig, model: torch.nn.Module, tokenizer):
        self.name, self.config, self.model, self.tokenizer = config.name, config, model, tokenizer

    @torch.no_grad()
    def score(self, prompts, responses, references=None):
        prompts = [shorten_prompt(self.tokenizer, p, self.config.max_prompt_tokens) for p in prompts]
        if self.config.chat_template:
            texts = [self.tokenizer.apply_chat_template([{"role": "user", "content": p}, {"role": "assistant", "content": r}],
                                                        tokenize=False) for p, r in zip(prompts, responses)]
        else:
            texts = [p + r for p, r in zip(prompts, responses)]
        encoded = [self.tokenizer(t)["input_ids"] for t in texts]
        scores = np.zeros(len(encoded))
        device = model_device(self.model)
        pad = self.tokenizer.pad_token_id
        for indices in token_budget_batches([len(e) for e in encoded], self.config.batch_tokens):
            width = max(len(encoded[i]) for i in indices)
            ids = torch.full((len(indices), width), pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for row, i in enumerate(indices):
                ids[row, :len(encoded[i])] = torch.tensor(encoded[i])
                mask[row, :len(encoded[i])] = 1
            logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            scores[indices] = logits[:, 0].float().cpu().numpy()
        return scores.tolist()


class CorrectnessRM(RewardModel):
    """Gold-answer reward: ``references`` are the task's Examples (answer extraction is the task's)."""

    needs_references = True
    description = "the task's gold score: 1 if the extracted answer equals the gold answer, else 0 (graded tasks: F1 / ROUGE-L)"

    @classmethod
    def from_config(cls, config, context):
        return cls(config.name, context.gold_reward)

    def __init__(self, name: str, gold_reward: Callable[[str, Any], float]):
        self.name, self.gold_reward = name, gold_reward

    def score(self, prompts, responses, references=None):
        if references is None or len(references) != len(responses):
            raise ValueError(f"reward model {self.name!r} needs one gold reference per response")
        return [float(self.gold_reward(r, ref)) for r, ref in zip(responses, references)]


class NoisyRM(RewardModel):
    description = "another RM's score plus Gaussian noise N(0, sigma)"

    @classmethod
    def from_config(cls, config, context):
        return cls(config.name, context.pool[config.base], config.sigma, stable_seed(context.seed, config.name))

    @staticmethod
    def depends_on(config):
        return config.base

    def __init__(self, name: str, base: RewardModel, sigma: float, seed: int):
        self.name, self.base, self.sigma = name, base, sigma
        self.needs_references = base.needs_references
        self.rng = np.random.default_rng(seed)

    def score(self, prompts, responses, references=None):
        clean = np.asarray(self.base.score(prompts, responses, references))
        return (clean + self.rng.normal(0.0, self.sigma, size=clean.shape)).tolist()

    def state_dict(self):
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        self.rng.bit_generator.state = state["rng"]


class CachedRM(RewardModel):
    """A deterministic RM whose scores are looked up in, and added to, a shared content-addressed cache."""

    def __init__(self, base: RewardModel, cache, identity: dict[str, Any]):
        self.base, self.cache, self.identity = base, cache, identity
        self.name, self.needs_references = base.name, base.needs_references

    def score(self, prompts, responses, references=None):
        from harness.cache import content_key

        keys = [content_key("rm-score", self.identity, p, r) for p, r in zip(prompts, responses)]
        found = self.cache.get_many(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            computed = self.base.score([prompts[i] for i in missing], [responses[i] for i in missing],
                                       [references[i] for i in missing] if references is not None else None)
            new = {keys[i]: float(value) for i, value in zip(missing, computed)}
            self.cache.put_many(new)
            found.update(new)
        return [found[key] for key in keys]


RM_KINDS: Registry[type[RewardModel]] = Registry("reward-model kind", {
    "loglik": "harness.rewards:LogLikelihoodRM",
    "implicit": "harness.rewards:ImplicitRM",
    "classifier": "harness.rewards:ClassifierRM",
    "correctness": "harness.rewards:CorrectnessRM",
    "noisy": "harness.rewards:NoisyRM",
}, base=RewardModel)


CORRECTNESS = "correctness"


def _cache_identity(config: RewardModelConfig) -> dict[str, Any]:
    from harness.cache import model_identity

    identity = {"kind": config.kind, "model": model_identity(config.model, config.dtype, config.device),
                "chat_template": config.chat_template, "version": 1}
    if config.kind == "implicit":
        identity.update(reference=model_identity(config.reference, config.dtype, config.device), beta=config.beta)
    return identity


@dataclass
class BuildContext:
    """What reward models are built from: shared model loading, the task's answer check, the run seed,
    and the RMs built so far (for RMs that wrap another)."""

    gold_reward: Callable[[str, Any], float]
    seed: int
    pool: dict[str, RewardModel] = field(default_factory=dict)
    loaded: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def causal_lm(self, spec: str, config: RewardModelConfig) -> torch.nn.Module:
        """One copy of each model, however many RMs name it."""
        key = ("causal", spec, config.dtype, config.device)
        if key not in self.loaded:
            self.loaded[key] = load_causal_lm(spec, config.dtype, config.device).requires_grad_(False)
        return self.loaded[key]

    def tokenizer(self, spec: str):
        key = ("tokenizer", spec)
        if key not in self.loaded:
            self.loaded[key] = load_tokenizer(spec)
        return self.loaded[key]


def build_reward_models(configs: Sequence[RewardModelConfig], gold_reward: Callable[[str, Any], float], seed: int,
                        cache=None) -> dict[str, RewardModel]:
    """Instantiate every configured RM through its kind's ``from_config``, plus the built-in
    ``correctness`` RM when none is configured under that name. With a ``ContentCache``, the
    deterministic RMs reuse scores other runs already computed for the same (prompt, response)."""
    context = BuildContext(gold_reward, seed)
    pending = list(configs)
    while pending:  # an RM that wraps another (noisy) may be declared before it
        ready = [c for c in pending if RM_KINDS.get(c.kind).depends_on(c) in (None, *context.pool)]
        if not ready:
            raise ValueError(f"reward models with a missing or circular base: {[c.name for c in pending]}")
        for config in ready:
            kind = RM_KINDS.get(config.kind)
            rm = kind.from_config(config, context)
            if cache is not None and kind.cacheable:
                rm = CachedRM(rm, cache, _cache_identity(config))
            context.pool[config.name] = rm
            pending.remove(config)
    if CORRECTNESS not in context.pool:
        context.pool[CORRECTNESS] = CorrectnessRM(CORRECTNESS, gold_reward)
    return context.pool
