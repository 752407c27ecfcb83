"""GGUF files de-quantised once: a model and tokenizer saved as an ordinary Hugging Face folder.

transformers de-quantises a GGUF file on every ``from_pretrained`` and rebuilds its tokenizer from the GGUF
vocabulary, which on a 2-core CPU takes ~30 s for SmolLM2-135M and ~80 s for Gemma-3-270M, for every model
load of every run. Here the first load saves what transformers built (float32 weights as safetensors, the
fast tokenizer with its chat template) under ``<cache home>/gguf/<file hash>/``, and every later load reads
that folder in seconds. The result is the same tensors and the same tokenizer, so runs are bit-identical
with and without the cache (tested); cache keys keep naming the GGUF file (``model_identity``), not the folder.

The folder is keyed by the GGUF file's absolute path, size and change time, written to a temporary folder
and renamed into place under a file lock, so concurrent workers build it once. ``HARNESS_GGUF_CACHE=0``
turns the cache off.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from filelock import FileLock
from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.common.content_cache import cache_home, content_key
from harness.models.specs import ModelLocation

CACHE_ENV = "HARNESS_GGUF_CACHE"
COMPLETE_MARKER = "dequantised.ok"
KEPT_MARKER = "kept-in-gguf-blocks"


def gguf_cache_enabled() -> bool:
    return os.environ.get(CACHE_ENV, "1") not in ("0", "false", "no")


def dequantised_folder(location: ModelLocation) -> Path | None:
    """The folder holding ``location``'s GGUF file de-quantised (built on first use); None where transformers
    keeps this file's weights in GGUF blocks (no plain checkpoint to save: load the GGUF itself)."""
    gguf = (Path(location.source) / str(location.gguf_file)).resolve()
    stat = gguf.stat()
    folder = cache_home() / "gguf" / content_key(str(gguf), stat.st_size, stat.st_mtime_ns)[:16]
    if not (folder / COMPLETE_MARKER).exists() and not (folder / KEPT_MARKER).exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder) + ".lock"):
            if not (folder / COMPLETE_MARKER).exists() and not (folder / KEPT_MARKER).exists():
                _build(gguf, folder)
    return folder if (folder / COMPLETE_MARKER).exists() else None


def _build(gguf: Path, folder: Path) -> None:
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
        quantizer = getattr(model, "hf_quantizer", None)
        if getattr(quantizer, "supported", False) or not all(p.is_floating_point() for p in model.parameters()):
            (staging / KEPT_MARKER).write_text(f"{gguf}\n")
        else:
            # the weights are plain float32 tensors now; only the loader's bookkeeping still says "gguf"
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(staging)
            AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(staging)
            (staging / COMPLETE_MARKER).write_text(f"{gguf}\n")
        shutil.rmtree(folder, ignore_errors=True)  # a partial folder from an interrupted build
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
