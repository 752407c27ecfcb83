"""Gradient checkpointing: the same loss and gradients as without it, less held for the backward pass, sampling
unchanged; and a bfloat16 base model trains float32 LoRA weights with float32 optimiser state."""

from __future__ import annotations

import pytest
import torch

from harness.config.schema import LoraConfig, PolicyConfig, TrainConfig
from harness.loop.train_step import PairTokens, PreferenceTrainer
from harness.models.logprobs import causal_lm_of, completion_logps, make_token_batch
from harness.models.policy import POLICY_ADAPTER, REFERENCE_ADAPTER, Policy, float32_adapters


def _policy(tiny_models, dropout: float = 0.0, dtype: str = "float32") -> Policy:
    policy = Policy(PolicyConfig(model=tiny_models["policy"], dtype=dtype, lora=LoraConfig(r=4, alpha=8, dropout=dropout)))
    torch.manual_seed(0)
    with torch.no_grad():  # LoRA B starts at zero: move every adapter weight so that gradients flow everywhere
        for param in policy.trainable_parameters():
            param.add_(0.1 * torch.randn_like(param))
    return policy


def _pairs(policy: Policy) -> list[PairTokens]:
    prompts = policy.encode_prompts(["Question: 2+2?\nSolution:", "Question: capital of France?\nSolution:", "Q: hi"])
    encode = lambda text: policy.tokenizer(text, add_special_tokens=False)["input_ids"]
    chosen = [encode(" Final answer: 4"), encode(" Final answer: Paris"), encode(" Hello there.")]
    rejected = [encode(" Final answer: 5"), encode(" Rome"), encode(" Go away, please.")]
    return [PairTokens(p, c, r) for p, c, r in zip(prompts, chosen, rejected)]


def _loss_and_gradients(trainer: PreferenceTrainer, items: list[PairTokens]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    trainer.policy.model.train()
    trainer.optimizer.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the same LoRA dropout masks in both runs
    loss, _ = trainer.micro_batch_loss(items)
    loss.backward()
    return loss.detach(), [param.grad.clone() for param in trainer.policy.trainable_parameters()]


def _count_calls(module: torch.nn.Module, counter: list[int]):
    return module.register_forward_pre_hook(lambda *_: counter.append(1))


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_checkpointing_gives_the_same_loss_and_gradients(tiny_models, dropout):
    """A DPO+NLL micro-batch with activations and logits recomputed in the backward pass: bit-identical loss and
    gradients of every LoRA weight (dropout masks replayed), and the recomputation does happen."""
    policy = _policy(tiny_models, dropout)
    trainer = PreferenceTrainer(policy, TrainConfig(loss="dpo_nll", beta=0.5, micro_batch_size=3))
    items = _pairs(policy)
    plain_loss, plain_gradients = _loss_and_gradients(trainer, items)
    policy.enable_gradient_checkpointing()
    layer_calls, head_calls = [], []
    lm = causal_lm_of(policy.model)
    hooks = [_count_calls(lm.model.layers[0].mlp, layer_calls), _count_calls(lm.get_output_embeddings(), head_calls)]
    loss, gradients = _loss_and_gradients(trainer, items)
    for hook in hooks:
        hook.remove()
    assert torch.equal(loss, plain_loss)
    assert len(gradients) == len(plain_gradients) and all(torch.equal(a, b) for a, b in zip(gradients, plain_gradients))
    assert all(gradient.abs().sum() > 0 for gradient in gradients)
    # policy forward, its recomputation, reference forward (no grad: not recomputed)
    assert len(layer_calls) == 3 and len(head_calls) == 3


@pytest.mark.parametrize("chunk_tokens", [1, 3, None])
def test_checkpointed_logits_equal_the_plain_path(tiny_models, chunk_tokens):
    policy = _policy(tiny_models)
    items = _pairs(policy)
    batch = make_token_batch([item.prompt for item in items], [item.chosen for item in items], 0)
    results = []
    for checkpoint_logits in (False, True):
        policy.model.zero_grad(set_to_none=True)
        sums, counts = completion_logps(policy.model, batch, chunk_tokens=chunk_tokens, checkpoint_logits=checkpoint_logits)
        (sums * torch.tensor([1.0, -2.0, 0.5])).sum().backward()
        results.append((sums.detach(), counts, [param.grad.clone() for param in policy.trainable_parameters()]))
    (plain_sums, plain_counts, plain_grads), (sums, counts, grads) = results
    assert torch.equal(sums, plain_sums) and torch.equal(counts, plain_counts)
    assert all(torch.equal(a, b) for a, b in zip(grads, plain_grads))
    with torch.no_grad():  # no gradients: nothing to recompute, the same values
        assert torch.equal(completion_logps(policy.model, batch, chunk_tokens, checkpoint_logits=True)[0], plain_sums)


def _saved_bytes(policy: Policy, batch, checkpoint_logits: bool) -> int:
    """Bytes a training forward leaves for the backward pass: the tensors autograd saves plus the inputs that
    checkpointed regions keep to recompute from (each decoder layer's and the output head's), deduplicated by
    storage, parameters left out."""
    parameters = {param.untyped_storage().data_ptr() for param in policy.model.parameters()}
    storages: dict[int, int] = {}

    def keep(*tensors) -> None:
        for tensor in tensors:
            if isinstance(tensor, torch.Tensor) and tensor.untyped_storage().data_ptr() not in parameters:
                storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        keep(tensor)
        return tensor

    lm = causal_lm_of(policy.model)
    hooks = [layer.register_forward_pre_hook(lambda module, args, kwargs: keep(*args, *kwargs.values()), with_kwargs=True)
             for layer in lm.model.layers]
    hooks.append(lm.get_output_embeddings().register_forward_pre_hook(lambda module, args: keep(*args)))
    policy.model.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            completion_logps(policy.model, batch, checkpoint_logits=checkpoint_logits)
    finally:
        for hook in hooks:
            hook.remove()
    return sum(storages.values())


def test_checkpointing_reduces_what_autograd_holds(tiny_models):
    policy = _policy(tiny_models)
    batch = make_token_batch([[1, 5, 6, 7, 8, 9]] * 4, [list(range(10, 40))] * 4, 0)
    plain = _saved_bytes(policy, batch, False)
    logits_only = _saved_bytes(policy, batch, True)
    policy.enable_gradient_checkpointing()
    layers_only = _saved_bytes(policy, batch, False)
    both = _saved_bytes(policy, batch, True)
    assert logits_only < 0.9 * plain and layers_only < 0.5 * plain
    assert both < 0.2 * plain, (plain, logits_only, layers_only, both)


def test_sampling_keeps_its_kv_cache_under_checkpointing(tiny_models):
    policy = _policy(tiny_models)
    prompt_ids = policy.encode_prompts(["Question: 1+1?", "Q: hi"])
    greedy = lambda: [[s.token_ids for s in g] for g in policy.generate(prompt_ids, 2, do_sample=False, max_new_tokens=10)]
    before = greedy()
    policy.enable_gradient_checkpointing()
    policy.model.train()  # as a training step leaves it before sampling: generate switches to eval mode itself
    assert greedy() == before  # one-token decode steps would sample other tokens had the cache been dropped
    assert policy.model.training


@pytest.mark.parametrize("checkpointing", [False, True])
def test_a_bfloat16_base_trains_float32_lora_weights_and_optimiser_state(tiny_models, checkpointing):
    policy = _policy(tiny_models, dtype="bfloat16")
    if checkpointing:
        policy.enable_gradient_checkpointing()
    adapters = {name: param for name, param in policy.model.named_parameters() if "lora_" in name}
    assert {name.split(".")[-2] for name in adapters} == {POLICY_ADAPTER, REFERENCE_ADAPTER}
    assert all(param.dtype == torch.float32 for param in adapters.values())
    assert all(param.dtype == torch.bfloat16 for name, param in policy.model.named_parameters() if name not in adapters)
    trainer = PreferenceTrainer(policy, TrainConfig(loss="dpo_nll", learning_rate=1e-3, micro_batch_size=2))
    before = [param.detach().clone() for param in policy.trainable_parameters()]
    step = trainer.step(_pairs(policy))
    assert torch.isfinite(torch.tensor(step.mean))
    assert any(not torch.equal(param, old) for param, old in zip(policy.trainable_parameters(), before))
    states = [trainer.optimizer.state[param] for param in policy.trainable_parameters()]
    assert states and all(state["exp_avg"].dtype == torch.float32 and state["exp_avg_sq"].dtype == torch.float32
                          for state in states)
    policy.snapshot_reference()
    assert all(param.dtype == torch.float32 for param in adapters.values())


def test_an_adapter_left_in_half_precision_is_upcast(tiny_models):
    """Older peft leaves an adapter added with ``add_adapter`` in the base model's dtype; the policy upcasts it."""
    policy = _policy(tiny_models, dtype="bfloat16")
    reference = [param for name, param in policy.model.named_parameters() if f".{REFERENCE_ADAPTER}." in name]
    for param in reference:
        param.data = param.data.bfloat16()
    float32_adapters(policy.model)
    assert reference and all(param.dtype == torch.float32 for param in reference)
    policy.snapshot_reference()
    assert all(torch.equal(reference_param, policy_param) for policy_param, reference_param in policy._adapter_pairs())
