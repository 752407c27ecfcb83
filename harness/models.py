"""Loading Hugging Face models and tokenizers by hub name, local folder, or GGUF file.

A spec ending in ``.gguf`` (a file, or ``folder::file.gguf``) is dequantised by transformers through
the ``gguf`` package. Everything else goes to ``from_pretrained`` unchanged, so hub names work when the
user is online and local folders work offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, PreTrainedTokenizerBase

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class ModelLocation:
    """Where ``from_pretrained`` should look: a name or folder, plus a GGUF file name inside it."""

    source: str
    gguf_file: str | None = None


def resolve_model_spec(spec: str) -> ModelLocation:
    if not spec:
        raise ValueError("empty model spec: give a hub name, a local folder or a .gguf file")
    if "::" in spec:
        folder, _, gguf = spec.partition("::")
        return ModelLocation(folder, gguf)
    if spec.endswith(".gguf"):
        path = Path(spec).expanduser()
        return ModelLocation(str(path.parent), path.name)
    return ModelLocation(spec)


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


def load_tokenizer(spec: str) -> PreTrainedTokenizerBase:
    location = resolve_model_spec(spec)
    kwargs = {"gguf_file": location.gguf_file} if location.gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(location.source, **kwargs)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(spec: str, dtype: str = "auto", device: str = "auto") -> torch.nn.Module:
    location = resolve_model_spec(spec)
    target = pick_device(device)
    kwargs = {"gguf_file": location.gguf_file} if location.gguf_file else {}
    model = AutoModelForCausalLM.from_pretrained(location.source, dtype=pick_dtype(dtype, target), **kwargs)
    return model.to(target).eval()


def load_sequence_classifier(spec: str, dtype: str = "auto", device: str = "auto") -> torch.nn.Module:
    location = resolve_model_spec(spec)
    target = pick_device(device)
    kwargs = {"gguf_file": location.gguf_file} if location.gguf_file else {}
    model = AutoModelForSequenceClassification.from_pretrained(location.source, dtype=pick_dtype(dtype, target), **kwargs)
    return model.to(target).eval()


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device
