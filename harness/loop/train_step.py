"""One optimisation step of the policy on a batch of preference pairs (gradient accumulation over
micro-batches), returning the step's training loss (the MAB reward's raw material) and each pair's share of it
(what a method routing prompts to reward models learns from). ``DemonstrationTrainer`` takes the same step on
(prompt, demonstration) items with the length-normalised NLL alone: supervised fine-tuning (the SFT baseline)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.config.schema import TrainConfig
from harness.loop.losses import PairLogps, build_loss, nll_terms
from harness.models.logprobs import completion_logps, make_token_batch
from harness.models.policy import Policy


@dataclass
class PairTokens:
    prompt: list[int]
    chosen: list[int]
    rejected: list[int]


@dataclass
class DemonstrationTokens:
    prompt: list[int]
    completion: list[int]   # the human-written response, EOS included


@dataclass
class StepLoss:
    mean: float              # the step's loss on the first pass, before any update
    per_pair: list[float]    # each pair's loss on that pass (their mean is ``mean``, up to rounding)


class PreferenceTrainer:
    def __init__(self, policy: Policy, config: TrainConfig):
        self.policy, self.config = policy, config
        self.loss = build_loss(config)
        self.optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=config.learning_rate,
                                           weight_decay=config.weight_decay)

    def _logps(self, model, prompts, completions) -> tuple[torch.Tensor, torch.Tensor]:
        batch = make_token_batch(prompts, completions, self.policy.tokenizer.pad_token_id, self.policy.device)
        return completion_logps(model, batch, checkpoint_logits=self.policy.gradient_checkpointing)

    def micro_batch_loss(self, items: list) -> tuple[torch.Tensor, torch.Tensor]:
        """The micro-batch's loss (to back-propagate) and each pair's share of it (detached)."""
        prompts = [it.prompt for it in items] * 2
        completions = [it.chosen for it in items] + [it.rejected for it in items]
        sums, counts = self._logps(self.policy.model, prompts, completions)
        n = len(items)
        logps = PairLogps(sums[:n], sums[n:], torch.zeros_like(sums[:n]), torch.zeros_like(sums[n:]), counts[:n].float())
        if self.loss.needs_reference:
            with torch.no_grad(), self.policy.reference() as reference:
                ref_sums, _ = self._logps(reference, prompts, completions)
            logps.reference_chosen, logps.reference_rejected = ref_sums[:n], ref_sums[n:]
        if self.loss.needs_mismatched and n > 1:  # KTO's KL estimate on mismatched (prompt, completion) pairs, as TRL builds them
            mismatched = [items[(i - 1) % n].chosen for i in range(n)]
            with torch.no_grad():
                logps.policy_kl, _ = self._logps(self.policy.model, prompts[:n], mismatched)
                with self.policy.reference() as reference:
                    logps.reference_kl, _ = self._logps(reference, prompts[:n], mismatched)
        return self.loss.terms(logps)

    def step(self, items: list) -> StepLoss:
        """Train on ``items``; the returned losses are measured on the first pass, before any update."""
        if not items:
            raise ValueError("a training step needs at least one item")
        model = self.policy.model
        model.train()
        first_pass_loss, per_pair = 0.0, []
        size = self.config.micro_batch_size
        for update in range(self.config.updates_per_step):
            self.optimizer.zero_grad(set_to_none=True)
            for start in range(0, len(items), size):
                chunk = items[start:start + size]
                loss, chunk_losses = self.micro_batch_loss(chunk)
                (loss * len(chunk) / len(items)).backward()
                if update == 0:
                    first_pass_loss += loss.item() * len(chunk) / len(items)
                    per_pair += chunk_losses.tolist()
            if self.config.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(self.policy.trainable_parameters(), self.config.max_grad_norm)
            self.optimizer.step()
        model.eval()
        return StepLoss(first_pass_loss, per_pair)


class DemonstrationTrainer(PreferenceTrainer):
    """Supervised fine-tuning: each item's loss is the length-normalised NLL of its demonstration (the same term
    the preference losses add for the chosen response), with the same optimiser, micro-batches and clipping."""

    def micro_batch_loss(self, items: list[DemonstrationTokens]) -> tuple[torch.Tensor, torch.Tensor]:
        sums, counts = self._logps(self.policy.model, [it.prompt for it in items], [it.completion for it in items])
        terms = nll_terms(sums, counts.float())
        return terms.mean(), terms.detach()
