from __future__ import annotations

import torch

from harness.config.schema import LoraConfig, PolicyConfig, TrainConfig
from harness.loop.train_step import PairTokens, PreferenceTrainer
from harness.models.policy import Policy


def _pairs(policy):
    prompts = policy.encode_prompts(["Question: 2+2?\nSolution:", "Question: capital of France?\nSolution:"])
    chosen = [policy.tokenizer(" Final answer: 4", add_special_tokens=False)["input_ids"],
              policy.tokenizer(" Final answer: Paris", add_special_tokens=False)["input_ids"]]
    rejected = [policy.tokenizer(" Final answer: 5", add_special_tokens=False)["input_ids"],
                policy.tokenizer(" Final answer: Rome", add_special_tokens=False)["input_ids"]]
    return [PairTokens(p, c, r) for p, c, r in zip(prompts, chosen, rejected)]


def test_a_step_changes_only_the_adapter_and_the_loss_falls(tiny_models):
    for loss in ("dpo", "nll", "dpo_nll", "kto"):
        policy = Policy(PolicyConfig(model=tiny_models["policy"], lora=LoraConfig(r=4, alpha=8, dropout=0.0)))
        trainer = PreferenceTrainer(policy, TrainConfig(loss=loss, learning_rate=5e-3, micro_batch_size=1, beta=0.5))
        frozen = {n: p.detach().clone() for n, p in policy.model.named_parameters() if not p.requires_grad}
        adapter = {n: p.detach().clone() for n, p in policy.model.named_parameters() if p.requires_grad}
        items = _pairs(policy)
        steps = [trainer.step(items) for _ in range(8)]
        losses = [step.mean for step in steps]
        assert losses[-1] < losses[0], (loss, losses)
        for step in steps:  # each pair's share of the loss (micro-batches of one pair: exactly their mean)
            assert len(step.per_pair) == len(items) and abs(sum(step.per_pair) / len(items) - step.mean) < 1e-6, (loss, step)
        changed = [n for n, p in policy.model.named_parameters() if p.requires_grad and not torch.equal(p, adapter[n])]
        assert changed, loss
        assert all(torch.equal(p, frozen[n]) for n, p in policy.model.named_parameters() if n in frozen)


def test_each_pairs_loss_averages_to_the_steps_loss_within_a_micro_batch(tiny_models):
    """``preference_losses`` splits every loss (KTO's batch KL term included) into per-pair shares whose mean is the loss."""
    for loss in ("dpo", "nll", "dpo_nll", "kto"):
        policy = Policy(PolicyConfig(model=tiny_models["policy"], lora=LoraConfig(r=4, alpha=8, dropout=0.0)))
        trainer = PreferenceTrainer(policy, TrainConfig(loss=loss, learning_rate=5e-3, micro_batch_size=2, beta=0.5))
        items = _pairs(policy)
        trainer.step(items)  # DPO's first step has policy == reference: log 2 for every pair
        step = trainer.step(items)
        assert len(step.per_pair) == 2 and step.per_pair[0] != step.per_pair[1], (loss, step)
        assert abs(sum(step.per_pair) / 2 - step.mean) < 1e-6, (loss, step)
