"""A policy model that starts from trained weights instead of ``policy.model``'s own: the base model with a trained
LoRA adapter merged into its weights (peft's ``merge_and_unload``), or with trained full weights copied in
(``policy.lora: null``). A run with ``train.start: sft`` builds its policy around this model (a fresh LoRA on top),
so the SFT policy is both where training starts and the DPO reference of its first iteration.

The adapter is merged in float32 LoRA weights (as it was trained) into the base model's dtype: for a bfloat16 base
the merged weights are rounded to bfloat16, as any merged checkpoint of that model would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from peft import LoraConfig, get_peft_model

from harness.config.schema import PolicyConfig
from harness.models.loading import load_causal_lm
from harness.models.policy import POLICY_ADAPTER, float32_adapters


@dataclass
class StartPolicy:
    """Where a run's policy starts: trained weights (a ``Policy.adapter_state()``) and the record of where they come
    from (metrics.json's ``start``: ``from``, the stage's key ``stage``, its folder and test result)."""

    weights: dict[str, torch.Tensor]
    record: dict[str, Any]


def start_identity(start: StartPolicy) -> dict[str, Any]:
    """What the start policy's outputs depend on beyond ``policy.model`` (the stage's key), for shared-cache keys
    (the content cache's, the profile's)."""
    return {"from": start.record["from"], "stage": start.record["stage"]}


@torch.no_grad()
def _copy_in(model: torch.nn.Module, weights: dict[str, torch.Tensor], what: str) -> None:
    params = dict(model.named_parameters())
    unknown = sorted(set(weights) - set(params))
    if unknown:
        raise ValueError(f"the trained {what} do not fit policy.model: no parameter {unknown[0]!r} "
                         f"({len(unknown)} of {len(weights)} unknown; were they trained with other LoRA settings?)")
    for name, value in weights.items():
        params[name].copy_(value)


def merged_model(config: PolicyConfig, weights: dict[str, torch.Tensor]) -> torch.nn.Module:
    """``config.model`` with ``weights`` applied: a ``Policy``'s ``adapter_state()`` trained under the same
    ``config`` (its LoRA adapter, merged into the weights; or every weight, without LoRA). Building the adapter
    draws its random initialisation (then overwritten) from torch's global generator: call it before seeding."""
    base = load_causal_lm(config.model, config.dtype, config.device)
    if config.lora is None:
        _copy_in(base, weights, "weights")
        return base
    lora = LoraConfig(r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
                      target_modules=config.lora.target_modules, task_type="CAUSAL_LM")
    model = get_peft_model(base, lora, adapter_name=POLICY_ADAPTER)
    float32_adapters(model)
    _copy_in(model, weights, "adapter weights")
    return model.merge_and_unload()
