"""Our DPO / NLL / KTO losses and completion log-probs against TRL's own loss code on the same tensors.

TRL's trainers compute the loss inside ``_compute_loss(model, inputs)``; we call those methods with a
minimal stand-in for the trainer object and a tiny Llama patched with TRL's fused LM head, so both sides
see the same model, tokens and reference log-probabilities.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
from transformers import LlamaForCausalLM
from trl.trainer.dpo_trainer import DPOTrainer
from trl.trainer.kto_trainer import KTOTrainer
from trl.trainer.utils import add_fused_lm_head

from harness.loop.losses import PairLogps, dpo_loss, kto_loss, nll_loss, preference_loss
from harness.models.logprobs import completion_logps, make_token_batch
from harness.models.tiny import tiny_llama_config

BETA = 0.1


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_llama_config(64, hidden_size=32)).eval()
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "mean_logits", "is_top1"))
    return model


def _accelerator():
    return SimpleNamespace(device=torch.device("cpu"), gather_for_metrics=lambda x: x, gather=lambda x: x,
                           unwrap_model=lambda m: m)


def _trainer_stub(model, **fields):
    base = dict(model=model, accelerator=_accelerator(), aux_loss_enabled=False, precompute_ref_logps=True,
                beta=BETA, _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
                _total_train_tokens=0, _tp_size=1, args=SimpleNamespace(gradient_checkpointing_kwargs=None))
    base.update(fields)
    return SimpleNamespace(**base)


def _pairs(completion_lengths, prompt_length=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    prompts = [torch.randint(3, 64, (prompt_length,), generator=g).tolist() for _ in completion_lengths]
    completions = [torch.randint(3, 64, (n,), generator=g).tolist() for n in completion_lengths]
    return prompts, completions


def test_dpo_and_dpo_nll_equal_trl(model):
    n = 4
    prompts, completions = _pairs([6] * n + [3, 7, 5, 4])  # chosen share a length: TRL's token-mean NLL agrees
    batch = make_token_batch(prompts, completions, pad_id=0)
    ref = torch.randn(2 * n, generator=torch.Generator().manual_seed(1)) - 20
    inputs = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask,
              "completion_mask": batch.completion_mask, "ref_chosen_logps": ref[:n], "ref_rejected_logps": ref[n:]}
    with torch.no_grad():
        sums, counts = completion_logps(model, batch)
    ours_dpo = dpo_loss(sums[:n], sums[n:], ref[:n], ref[n:], BETA)
    ours_both = preference_loss("dpo_nll", PairLogps(sums[:n], sums[n:], ref[:n], ref[n:], counts[:n].float()), BETA)
    for loss_types, ours in ((["sigmoid"], ours_dpo), (["sigmoid", "sft"], ours_both)):
        stub = _trainer_stub(model, ld_alpha=None, f_divergence_type="reverse_kl", loss_types=loss_types,
                             loss_weights=[1.0] * len(loss_types), use_weighting=False, label_smoothing=0.0)
        with torch.no_grad():
            theirs = DPOTrainer._compute_loss(stub, model, dict(inputs), return_outputs=False)
        assert ours.item() == pytest.approx(theirs.item(), abs=1e-5)


def test_nll_is_length_normalised_per_sequence():
    sums, lengths = torch.tensor([-6.0, -2.0]), torch.tensor([3.0, 1.0])
    assert nll_loss(sums, lengths).item() == pytest.approx(-((-6 / 3) + (-2 / 1)) / 2)


def test_kto_equals_trl(model):
    n = 4
    prompts, completions = _pairs([4, 6, 5, 3, 7, 2, 5, 4], seed=2)
    batch = make_token_batch(prompts, completions, pad_id=0)
    kl_completions = [completions[(i - 1) % n] for i in range(n)]  # chosen rolled by one, as TRL builds them
    kl_batch = make_token_batch(prompts[:n], kl_completions, pad_id=0)
    ref = torch.randn(2 * n, generator=torch.Generator().manual_seed(3)) - 15
    ref_kl = torch.randn(n, generator=torch.Generator().manual_seed(4)) - 25
    inputs = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask,
              "completion_mask": batch.completion_mask, "label": torch.tensor([True] * n + [False] * n),
              "ref_logps": ref, "ref_KL_logps": torch.cat([ref_kl, ref_kl]),
              "KL_input_ids": torch.cat([kl_batch.input_ids] * 2), "KL_attention_mask": torch.cat([kl_batch.attention_mask] * 2),
              "KL_completion_mask": torch.cat([kl_batch.completion_mask] * 2)}
    stub = _trainer_stub(model, calculate_KL=True, loss_type="kto", desirable_weight=1.0, undesirable_weight=1.0)
    stub._compute_kl_logps = lambda m, b: KTOTrainer._compute_kl_logps(stub, m, b)
    with torch.no_grad():
        theirs = KTOTrainer._compute_loss(stub, model, dict(inputs), return_outputs=False)
        sums, _ = completion_logps(model, batch)
        kl_sums, _ = completion_logps(model, kl_batch)
    ours = kto_loss(sums[:n], sums[n:], ref[:n], ref[n:], torch.cat([kl_sums, kl_sums]), torch.cat([ref_kl, ref_kl]), BETA)
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-5)


def test_completion_logps_equal_a_full_log_softmax(model):
    prompts, completions = _pairs([3, 9, 1], seed=5)
    batch = make_token_batch(prompts, completions, pad_id=0)
    with torch.no_grad():
        sums, counts = completion_logps(model, batch, chunk_tokens=4)
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    logps = torch.log_softmax(logits[:, :-1].float(), -1).gather(2, batch.input_ids[:, 1:, None]).squeeze(2)
    expected = (logps * batch.completion_mask[:, 1:]).sum(1)
    torch.testing.assert_close(sums, expected, atol=1e-5, rtol=1e-5)
    assert counts.tolist() == [3, 9, 1]


@pytest.mark.parametrize("family", ["granite", "gemma2"])
def test_completion_logps_follow_the_models_own_logit_transform(family):
    """Models that scale (Granite) or soft-cap (Gemma-2) their logits: our log-probs equal theirs."""
    import transformers

    torch.manual_seed(0)
    if family == "granite":
        config = transformers.GraniteConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                            num_attention_heads=4, num_key_value_heads=4, logits_scaling=4.0)
        model = transformers.GraniteForCausalLM(config).eval()
    else:
        config = transformers.Gemma2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                           num_attention_heads=4, num_key_value_heads=4, head_dim=8,
                                           final_logit_softcapping=2.0)
        model = transformers.Gemma2ForCausalLM(config).eval()
    prompts, completions = _pairs([4, 6], seed=7)
    batch = make_token_batch(prompts, completions, pad_id=0)
    with torch.no_grad():
        sums, _ = completion_logps(model, batch)
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    logps = torch.log_softmax(logits[:, :-1].float(), -1).gather(2, batch.input_ids[:, 1:, None]).squeeze(2)
    torch.testing.assert_close(sums, (logps * batch.completion_mask[:, 1:]).sum(1), atol=1e-4, rtol=1e-4)
