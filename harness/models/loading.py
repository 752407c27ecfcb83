"""Loading Hugging Face models and tokenizers from a model spec (``harness.models.specs``), and a model's
identity for cache keys."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedTokenizerBase,
)

from harness.config.active_world import active_world_settings
from harness.models.gguf_cache import dequantised_folder, gguf_cache_enabled
from harness.models.specs import ModelLocation, resolve_model_spec

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return DTYPES[dtype]


def loadable_location(spec: str) -> ModelLocation:
    """Where to load ``spec`` from: its location, or for a GGUF file its de-quantised copy (``gguf_cache``)."""
    location = resolve_model_spec(spec)
    if location.gguf_file and gguf_cache_enabled():
        folder = dequantised_folder(location)
        if folder is not None:
            return ModelLocation(str(folder))
    return location


def load_tokenizer(spec: str) -> PreTrainedTokenizerBase:
    location = loadable_location(spec)
    kwargs = {"gguf_file": location.gguf_file} if location.gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(location.source, **kwargs)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load(auto_class, spec: str, dtype: str, device: str) -> torch.nn.Module:
    location = loadable_location(spec)
    target = pick_device(device)
    kwargs = {"gguf_file": location.gguf_file} if location.gguf_file else {}
    model = auto_class.from_pretrained(location.source, dtype=pick_dtype(dtype, target), **kwargs)
    return model.to(target).eval()


def load_causal_lm(spec: str, dtype: str = "auto", device: str = "auto") -> torch.nn.Module:
    return _load(AutoModelForCausalLM, spec, dtype, device)


def load_sequence_classifier(spec: str, dtype: str = "auto", device: str = "auto") -> torch.nn.Module:
    return _load(AutoModelForSequenceClassification, spec, dtype, device)


def load_encoder(spec: str, dtype: str = "auto", device: str = "auto") -> torch.nn.Module:
    """The model without a task head (a sentence encoder; a causal LM's decoder stack)."""
    return _load(AutoModel, spec, dtype, device)


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def model_identity(spec: str, dtype: str, device: str) -> dict[str, Any]:
    """A model's identity for cache keys: its spec, and for local files their sizes and change times."""
    identity: dict[str, Any] = {"spec": spec, "dtype": dtype, "device": device}
    world = active_world_settings()
    if spec.startswith("world:") and not world.is_default():  # world:NAME differs between worlds (default: keys as before)
        identity["world"] = asdict(world)
    try:
        location = resolve_model_spec(spec)
    except (OSError, ValueError):
        return identity
    folder = Path(location.source)
    if folder.is_dir():
        files = [folder / location.gguf_file] if location.gguf_file else sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
        identity["files"] = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.exists()]
    return identity
