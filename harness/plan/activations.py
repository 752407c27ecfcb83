"""Training activations per token, measured rather than guessed: one and two decoder layers of the policy's own
architecture, at full width, with its LoRA adapter, run forward on a few tokens on the CPU while every tensor that
autograd saves for the backward pass is counted (``torch.autograd.graph.saved_tensors_hooks``, one count per
storage, parameters excluded). The difference is what one layer keeps per token; the rest is what the model keeps
outside its layers. Weights are allocated uninitialised (``to_empty``): nothing is loaded, and the values do not
matter for sizes. The vocabulary is shrunk to 256, since the output head's logits are counted separately.

Sizes are linear in tokens with PyTorch's SDPA attention (no sequence x sequence matrix is saved), so a count on
64 tokens scales to a micro-batch of any length. CUDA's fused attention saves the same tensors as the CPU's up to
its log-sum-exp layout; the paper-shape bench measures the difference on a GPU.
"""

from __future__ import annotations

import copy
import functools
import warnings
from dataclasses import dataclass

import torch
from peft import LoraConfig, get_peft_model

from harness.models.loading import DTYPES
from harness.plan.models import DTYPE_BYTES, empty_model, model_config

PROBE_BATCH, PROBE_TOKENS = 2, 32


@dataclass(frozen=True)
class TrainedActivations:
    """Bytes autograd keeps per token: per decoder layer, outside the layers (embeddings, final norm), and per
    layer when the layers are checkpointed (their inputs only)."""

    per_layer: int
    outside_layers: int
    per_layer_checkpointed: int

    def saved_bytes(self, tokens: int, layers: int, checkpointing: bool) -> int:
        """What a forward pass over ``tokens`` keeps for its backward pass, plus, during the backward pass, one
        layer's activations again (recomputed when checkpointed; its gradients otherwise)."""
        kept = self.per_layer_checkpointed if checkpointing else self.per_layer
        return tokens * (layers * kept + self.outside_layers + self.per_layer)


def _saved_bytes(model: torch.nn.Module, ids: torch.Tensor) -> int:
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        pointer = storage.data_ptr()
        if pointer not in parameters and tensor.device.type != "meta":
            saved[pointer] = max(saved.get(pointer, 0), storage.nbytes())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        decoder = model.get_base_model().get_decoder() if hasattr(model, "get_base_model") else model.get_decoder()
        decoder(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False)
    return sum(saved.values())


def _probe_model(spec: str, layers: int, dtype: str, lora: tuple[int, float, str | tuple[str, ...]] | None,
                 checkpointing: bool) -> torch.nn.Module:
    config = copy.deepcopy(model_config(spec)[0])
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    for key, value in (("num_hidden_layers", layers), ("n_layer", layers), ("vocab_size", 256)):
        if hasattr(text, key):
            setattr(text, key, value)
    if getattr(text, "layer_types", None):
        text.layer_types = text.layer_types[:layers]
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
        if hasattr(text, key):
            setattr(text, key, None)
    model = empty_model(config, "cpu", DTYPES[dtype])
    for parameter in model.parameters():  # uninitialised memory may hold NaNs: harmless for sizes, but keep it quiet
        parameter.data.zero_()
    if lora is not None:
        r, dropout, targets = lora
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=dropout, task_type="CAUSAL_LM",
                                                     target_modules=targets if isinstance(targets, str) else list(targets)))
    else:
        model.requires_grad_(True)
    if checkpointing:
        inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inner.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model.train()


@functools.lru_cache(maxsize=64)
def trained_activations(spec: str, dtype: str, lora: tuple[int, float, str | tuple[str, ...]] | None) -> TrainedActivations:
    """Per-token activation bytes of training ``spec`` (dtype, LoRA (r, dropout, targets) or None for full weights)."""
    ids = torch.randint(0, 256, (PROBE_BATCH, PROBE_TOKENS))
    tokens = PROBE_BATCH * PROBE_TOKENS
    counts = {}
    for layers in (1, 2):
        for checkpointing in (False, True):
            counts[layers, checkpointing] = _saved_bytes(_probe_model(spec, layers, dtype, lora, checkpointing), ids)
    per_layer = (counts[2, False] - counts[1, False]) // tokens
    outside = max(0, counts[1, False] // tokens - per_layer)
    per_layer_checkpointed = max(0, (counts[2, True] - counts[1, True]) // tokens)
    return TrainedActivations(per_layer, outside, per_layer_checkpointed)


def inference_bytes_per_token(hidden: int, intermediate: int, dtype: str) -> int:
    """The largest transient of a no-grad forward pass per token: the residual stream and the MLP's gate, up and
    activated tensors alive together, plus the float32 copy a norm layer makes."""
    return (2 * hidden + 3 * intermediate) * DTYPE_BYTES[dtype] + 2 * hidden * 4
