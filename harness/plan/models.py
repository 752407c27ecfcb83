"""Model shapes without weights: a model spec's ``config.json`` (shipped, local, GGUF metadata, the synthetic world's,
or the local Hugging Face cache), its exact parameter count from the model built on the meta device, its LoRA
parameters, and its KV cache per token.

The configs of the models the paper's YAMLs name are shipped in ``model_configs/`` (``SOURCE.md`` there says where
they come from), so ``python -m harness plan`` answers offline for every shipped YAML.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from huggingface_hub import try_to_load_from_cache
from peft import LoraConfig as PeftLoraConfig
from peft import get_peft_model
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification, PretrainedConfig

from harness.common import hub
from harness.config.schema import LoraConfig
from harness.models.specs import MODEL_ALIASES, looks_like_path, resolve_model_spec
from harness.world.build import world_model_config

SHIPPED_CONFIGS = Path(__file__).resolve().parent / "model_configs"
Role = Literal["causal", "classifier", "encoder"]
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


class UnknownModelError(LookupError):
    """No config for a model spec here: not shipped, not local, not in the Hugging Face cache."""


def shipped_config_folder(spec: str) -> Path | None:
    folder = SHIPPED_CONFIGS / spec.replace("/", "--")
    return folder if (folder / "config.json").exists() else None


def _hub_cache_config(spec: str) -> Path | None:
    """``config.json`` of a hub model already in the local Hugging Face cache (no download)."""
    try:
        found = try_to_load_from_cache(spec, "config.json")
    except Exception:  # an invalid repo id raises; the spec is then simply not cached
        return None
    return Path(found) if isinstance(found, str) else None


@functools.lru_cache(maxsize=256)
def model_config(spec: str) -> tuple[PretrainedConfig, str]:
    """The model's config and where it was read from (``shipped``, ``local``, ``gguf``, ``world``, ``hub cache``, or
    ``hub``: its ``config.json`` alone, when the hub is reachable)."""
    spec = MODEL_ALIASES.get(spec, spec)
    source, sep, name = spec.partition(":")
    if sep and source == "world":
        return world_model_config(name), "world"
    shipped = shipped_config_folder(spec)
    if shipped is not None:
        return AutoConfig.from_pretrained(shipped), "shipped"
    try:
        location = resolve_model_spec(spec)
    except (OSError, ValueError) as error:
        raise UnknownModelError(f"{spec!r}: {error}") from None
    folder = Path(os.path.expandvars(location.source)).expanduser()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if location.gguf_file and (folder / location.gguf_file).exists():
            return AutoConfig.from_pretrained(folder, gguf_file=location.gguf_file), "gguf"
        if (folder / "config.json").exists():
            return AutoConfig.from_pretrained(folder), "local"
        cached = _hub_cache_config(spec)
        if cached is not None:
            return AutoConfig.from_pretrained(cached.parent), "hub cache"
        if not looks_like_path(spec) and hub.hub_reachable():  # its config.json only: a few KB
            try:
                return AutoConfig.from_pretrained(spec), "hub"
            except (OSError, ValueError) as error:
                raise UnknownModelError(f"{spec!r}: {error}") from None
    raise UnknownModelError(f"{spec!r}: no config.json shipped with the harness, in a local folder or in the Hugging Face "
                            f"cache; put the model's config.json in a folder and name that folder")


def _text_config(config: PretrainedConfig) -> PretrainedConfig:
    return config.get_text_config() if hasattr(config, "get_text_config") else config


@dataclass(frozen=True)
class ModelShape:
    """What memory a model needs, read from its config: exact parameter count and the sizes the plan multiplies."""

    spec: str
    role: Role
    source: str
    parameters: int
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    model_type: str

    def weight_bytes(self, dtype: str) -> int:
        return self.parameters * DTYPE_BYTES[dtype]

    def kv_bytes_per_token(self, dtype: str) -> int:
        """Keys and values of every layer for one token (a causal LM's KV cache)."""
        return 2 * self.layers * self.kv_heads * self.head_dim * DTYPE_BYTES[dtype]


def _meta_model(config: PretrainedConfig, role: Role) -> torch.nn.Module:
    auto = {"causal": AutoModelForCausalLM, "classifier": AutoModelForSequenceClassification, "encoder": AutoModel}[role]
    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return auto.from_config(config)


@functools.lru_cache(maxsize=256)
def model_shape(spec: str, role: Role = "causal") -> ModelShape:
    """The shape of ``spec`` loaded as ``role`` (what ``AutoModelForCausalLM`` / ``...ForSequenceClassification`` /
    ``AutoModel`` would build), its parameters counted on the meta device: no weights are read or allocated."""
    config, source = model_config(spec)
    model = _meta_model(config, role)
    parameters = sum(p.numel() for p in model.parameters())
    text = _text_config(config)
    hidden = int(getattr(text, "hidden_size", None) or getattr(text, "n_embd"))
    heads = int(getattr(text, "num_attention_heads", None) or getattr(text, "n_head"))
    layers = int(getattr(text, "num_hidden_layers", None) or getattr(text, "n_layer"))
    head_dim = int(getattr(text, "head_dim", None) or hidden // heads)
    kv_heads = int(getattr(text, "num_key_value_heads", None) or heads)
    intermediate = int(getattr(text, "intermediate_size", None) or getattr(text, "n_inner", None) or 4 * hidden)
    return ModelShape(spec, role, source, parameters, layers, hidden, intermediate, heads, kv_heads, head_dim,
                      int(text.vocab_size), str(text.model_type))


@functools.lru_cache(maxsize=64)
def _lora_parameters(spec: str, r: int, target_modules: str | tuple[str, ...]) -> int:
    config, _ = model_config(spec)
    targets = target_modules if isinstance(target_modules, str) else list(target_modules)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = get_peft_model(_meta_model(config, "causal"),
                               PeftLoraConfig(r=r, lora_alpha=2 * r, target_modules=targets, task_type="CAUSAL_LM"))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def lora_parameters(spec: str, lora: LoraConfig) -> int:
    """Trainable parameters of one LoRA adapter on ``spec`` (peft on the meta model: exact)."""
    targets = lora.target_modules if isinstance(lora.target_modules, str) else tuple(lora.target_modules)
    return _lora_parameters(spec, lora.r, targets)


def shipped_models() -> dict[str, dict]:
    """Every shipped config by hub name."""
    return {folder.name.replace("--", "/"): json.loads((folder / "config.json").read_text())
            for folder in sorted(SHIPPED_CONFIGS.iterdir()) if (folder / "config.json").exists()}


def empty_model(config: PretrainedConfig, device: torch.device | str, dtype: torch.dtype) -> torch.nn.Module:
    """A causal LM of ``config`` allocated on ``device`` without initialising its weights (their values are whatever
    the memory held), with its rotary frequencies computed: for measuring sizes, or for a caller to fill."""
    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model = model.to_empty(device=device)
    for module in model.modules():  # buffers computed at construction (rotary frequencies): computed again
        if type(module).__name__.endswith("RotaryEmbedding") and hasattr(module, "config"):
            fresh = type(module)(module.config)
            for name, buffer in fresh.named_buffers(recurse=False):
                getattr(module, name).copy_(buffer)
    return model
