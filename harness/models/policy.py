"""The policy being trained: a causal LM with a LoRA adapter, its reference copy, sampling and embeddings.

Sampling draws all n responses of every prompt in the batch together (``harness.models.decoding``: each
prompt encoded once, KV cache on). The reference policy pi_{m-1} of iteration m is a second,
frozen LoRA adapter ("reference") whose weights are copied from the trained one at the start of each
iteration, so no second copy of the base model is held. Both adapters are float32 whatever the base model's dtype,
so a bfloat16 base still trains float32 LoRA weights with float32 AdamW state.

Two settings, off by default, let a large policy fit one GPU (the run sets them from its memory plan):
``generation_rows`` decodes that many rows at a time, each row drawn from its own counter-based stream so the
tokens do not depend on it, and ``enable_gradient_checkpointing`` recomputes activations and the output head's
logits in the backward pass.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from peft import LoraConfig, get_peft_model

from harness.config.schema import MemoryConfig, PolicyConfig
from harness.models.decoding import sample_continuations
from harness.models.loading import load_causal_lm, load_tokenizer, model_device, model_identity
from harness.models.logprobs import causal_lm_of
from harness.models.tokens import chat_prompt_ids, left_pad, truncate_tokens

REFERENCE_ADAPTER = "reference"
POLICY_ADAPTER = "default"


@dataclass
class Sample:
    """One sampled response: its tokens up to (without) the end-of-sequence token, its text, and the EOS token
    it stopped at (None when it ran out of ``max_new_tokens``)."""

    token_ids: list[int]
    text: str
    stop_id: int | None = None

    @property
    def completion_ids(self) -> list[int]:
        """The tokens as generated, EOS included: what training and likelihoods see, so the policy learns to stop."""
        return self.token_ids + ([self.stop_id] if self.stop_id is not None else [])


def float32_adapters(model: torch.nn.Module) -> None:
    """Hold every LoRA weight in float32 whatever the base model's dtype. peft upcasts half-precision adapters
    itself, but older releases (0.17) not one added with ``add_adapter``: the reference adapter would then round the
    trained weights each snapshot copies into it."""
    for name, param in model.named_parameters():
        if "lora_" in name and param.dtype in (torch.float16, torch.bfloat16):
            param.data = param.data.float()


class Policy:
    def __init__(self, config: PolicyConfig, model: torch.nn.Module | None = None, tokenizer=None,
                 start: dict[str, Any] | None = None):
        """The policy of ``config``, loaded from ``config.model``; or built around a ``model`` and ``tokenizer``
        already in memory (the paper-shape bench's random weights; a run's start policy, ``harness.models.start``),
        with ``config``'s LoRA. ``start`` names where the weights of ``model`` come from when they are not
        ``config.model``'s own (part of the cache identity)."""
        self.config = config
        self.start = start
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(config.model)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        base = model if model is not None else load_causal_lm(config.model, config.dtype, config.device)
        base.config.use_cache = True
        self.device = model_device(base)
        if config.lora is not None:
            lora = LoraConfig(r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
                              target_modules=config.lora.target_modules, task_type="CAUSAL_LM")
            self.model = get_peft_model(base, lora, adapter_name=POLICY_ADAPTER)
            self.model.add_adapter(REFERENCE_ADAPTER, lora)
            float32_adapters(self.model)
            self.model.set_adapter(POLICY_ADAPTER)
            self._reference_model = None
        else:
            self.model = base
            self._reference_model = copy.deepcopy(base).eval().requires_grad_(False)
        self.snapshot_reference()
        self.eos_ids = self._eos_ids()
        self.generation_rows: int | None = None  # rows decoded together (None: all of a call's rows, global RNG)
        self.gradient_checkpointing = False

    @property
    def identity(self) -> dict:
        """What the initial policy's outputs depend on, for shared-cache keys."""
        identity = {"model": model_identity(self.config.model, self.config.dtype, self.config.device),
                    "device": self.device.type, "version": 1}
        if self.start is not None:  # e.g. the SFT policy merged into the weights: other outputs than the base's
            identity["start"] = self.start
        return identity

    def decode(self, token_ids: list[int]) -> str:
        return self.tokenizer.decode(token_ids, skip_special_tokens=True)

    # ----- prompts -------------------------------------------------------------------------------
    def _eos_ids(self) -> set[int]:
        ids = set()
        for source in (self.tokenizer.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)):
            if isinstance(source, int):
                ids.add(source)
            elif source:
                ids.update(source)
        return ids

    def encode_prompts(self, prompts: Sequence[str]) -> list[list[int]]:
        """Token ids of each prompt (chat template when configured), at most max_prompt_tokens of them."""
        encoded = []
        for prompt in prompts:
            if self.config.chat_template:
                ids = chat_prompt_ids(self.tokenizer, prompt)
            else:
                ids = self.tokenizer(prompt, add_special_tokens=True)["input_ids"]
            encoded.append(truncate_tokens(ids, self.config.max_prompt_tokens, self.config.truncation))
        return encoded

    def encode_completion(self, text: str, max_tokens: int | None = None) -> list[int]:
        """A written response as the policy would emit it: its tokens then EOS, so training on it teaches the
        policy to stop; a response longer than ``max_tokens`` is cut there (and then has no EOS)."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if max_tokens is not None and len(ids) >= max_tokens:
            return ids[:max_tokens]
        eos = self.tokenizer.eos_token_id
        return ids + ([eos] if eos is not None else [])

    def _left_pad(self, prompt_ids: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        ids, mask = left_pad(prompt_ids, self.tokenizer.pad_token_id)
        return ids.to(self.device), mask.to(self.device)

    # ----- generation ----------------------------------------------------------------------------
    def sample_of(self, generated: Sequence[int]) -> Sample:
        """A Sample from generated token ids: cut at the first EOS, which it keeps as ``stop_id``."""
        out: list[int] = []
        for token in generated:
            if token in self.eos_ids:
                return Sample(out, self.decode(out), int(token))
            out.append(int(token))
        return Sample(out, self.decode(out))

    @torch.no_grad()
    def generate(self, prompt_ids: Sequence[Sequence[int]], n: int, *, do_sample: bool, temperature: float = 1.0,
                 top_p: float = 1.0, max_new_tokens: int = 256, seed: int | None = None) -> list[list[Sample]]:
        """n responses for every prompt; result[i][j] is prompt i's j-th. All rows decode together, or
        ``generation_rows`` at a time, row r = i * n + j drawing from the counter-based stream (seed, r) (seed
        None: drawn from torch's global RNG)."""
        if not prompt_ids:
            return []
        if seed is not None:
            torch.manual_seed(seed)
        chunking = {} if self.generation_rows is None else {"rows_per_chunk": self.generation_rows, "seed": seed}
        ids, mask = self._left_pad(prompt_ids)
        was_training = self.model.training
        self.model.eval()
        try:
            new_tokens = sample_continuations(self.model, ids, mask, n, do_sample=do_sample, temperature=temperature,
                                              top_p=top_p, max_new_tokens=max_new_tokens, eos_ids=self.eos_ids,
                                              pad_id=self.tokenizer.pad_token_id, **chunking)
        finally:
            self.model.train(was_training)
        samples = [self.sample_of(row) for row in new_tokens.tolist()]
        return [samples[i * n:(i + 1) * n] for i in range(len(prompt_ids))]

    # ----- training memory -----------------------------------------------------------------------
    def use_memory_settings(self, memory: MemoryConfig) -> None:
        """Follow a run's resolved memory settings (``harness.plan.runtime``): rows decoded together and gradient
        checkpointing; null or false leave the policy as it was built."""
        self.generation_rows = memory.generation_rows
        if memory.gradient_checkpointing:
            self.enable_gradient_checkpointing()

    def enable_gradient_checkpointing(self) -> None:
        """Recompute each decoder layer's activations in the backward pass instead of holding them, and (through
        ``gradient_checkpointing``, which the trainer reads) the output head's float32 logits chunk by chunk.

        Non-reentrant checkpointing gives the LoRA weights inside a recomputed layer their gradients without the
        inputs requiring grad, so the embedding hook transformers adds for the reentrant kind is removed again.
        Only training-mode forward passes with gradients are checkpointed: sampling (eval mode, no grad) keeps its
        KV cache.
        """
        lm = causal_lm_of(self.model)
        kwargs = {"use_reentrant": False}
        if hasattr(lm, "activation_checkpointing_enable"):  # recent transformers, where the older name warns
            lm.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        with suppress(AttributeError):  # transformers 4.x adds no hook here, and raises on removing none
            lm.disable_input_require_grads()
        self.gradient_checkpointing = True

    # ----- embeddings ----------------------------------------------------------------------------
    @torch.no_grad()
    def embed(self, prompt_ids: Sequence[Sequence[int]], mode: str | None = None) -> np.ndarray:
        """Sentence embedding of each prompt from the final hidden states: last, first or mean token."""
        mode = mode or self.config.embedding
        ids, mask = self._left_pad(prompt_ids)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding must not shift the real tokens' positions
        decoder = causal_lm_of(self.model).get_decoder()
        hidden = decoder(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False).last_hidden_state
        hidden = hidden.float()
        if mode == "last":
            vectors = hidden[:, -1]
        elif mode == "first":
            first = mask.argmax(dim=1)
            vectors = hidden[torch.arange(hidden.shape[0], device=hidden.device), first]
        elif mode == "mean":
            weights = mask.unsqueeze(-1).float()
            vectors = (hidden * weights).sum(1) / weights.sum(1)
        else:
            raise ValueError(f"unknown embedding mode {mode!r}; accepted: last, first, mean")
        return vectors.cpu().numpy().astype(np.float64)

    @property
    def hidden_size(self) -> int:
        config = self.model.config
        return int(getattr(config, "hidden_size", None) or config.get_text_config().hidden_size)

    # ----- reference policy ----------------------------------------------------------------------
    def _adapter_pairs(self) -> Iterator[tuple[torch.nn.Parameter, torch.nn.Parameter]]:
        params = dict(self.model.named_parameters())
        for name, param in params.items():
            if f".{POLICY_ADAPTER}." in name:
                yield param, params[name.replace(f".{POLICY_ADAPTER}.", f".{REFERENCE_ADAPTER}.")]

    @torch.no_grad()
    def snapshot_reference(self) -> None:
        """Make the current policy the reference (pi_{m-1}) for the iteration that starts now."""
        if self._reference_model is not None:
            self._reference_model.load_state_dict(self.model.state_dict())
            return
        for policy_param, reference_param in self._adapter_pairs():
            reference_param.copy_(policy_param)

    @contextmanager
    def reference(self) -> Iterator[torch.nn.Module]:
        """The reference model for a no-grad forward pass."""
        if self._reference_model is not None:
            yield self._reference_model
            return
        was_training = self.model.training
        self.model.eval()  # no LoRA dropout in the reference pass
        self.model.set_adapter(REFERENCE_ADAPTER, inference_mode=True)
        try:
            yield self.model
        finally:
            self.model.set_adapter(POLICY_ADAPTER)
            self.model.train(was_training)

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def adapter_state(self) -> dict[str, torch.Tensor]:
        """The trainable weights (LoRA adapter, or every weight without LoRA), for checkpoints."""
        return {name: p.detach().clone() for name, p in self.model.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def load_adapter_state(self, state: dict[str, torch.Tensor]) -> None:
        params = dict(self.model.named_parameters())
        for name, value in state.items():
            params[name].copy_(value)
