"""Preference losses on per-sequence log-probabilities: DPO, length-normalised NLL, DPO+NLL and KTO.

Hand-written on summed completion log-probabilities (one forward pass per sequence feeds every loss);
``tests/test_losses.py`` checks them against TRL's DPOTrainer/KTOTrainer loss code on the same tensors.
DPO (Rafailov et al.):  -log sigmoid(beta [(log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l))]).
NLL (paper eq. 1):       -log pi(y_w | x) / |y_w|, averaged over pairs.
KTO (Ethayarajh et al., TRL's form): chosen as desirable, rejected as undesirable, with the KL term
estimated on mismatched (prompt, completion) pairs, detached and clamped at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

LOSSES = ("dpo", "nll", "dpo_nll", "kto")


@dataclass
class PairLogps:
    """Summed completion log-probs of a micro-batch of pairs under the policy and the reference."""

    policy_chosen: torch.Tensor
    policy_rejected: torch.Tensor
    reference_chosen: torch.Tensor
    reference_rejected: torch.Tensor
    chosen_lengths: torch.Tensor
    policy_kl: torch.Tensor | None = None      # KTO: mismatched completions
    reference_kl: torch.Tensor | None = None


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, reference_chosen: torch.Tensor,
             reference_rejected: torch.Tensor, beta: float) -> torch.Tensor:
    margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return -F.logsigmoid(beta * margin).mean()


def nll_loss(policy_chosen: torch.Tensor, chosen_lengths: torch.Tensor) -> torch.Tensor:
    return -(policy_chosen / chosen_lengths.clamp(min=1)).mean()


def kto_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, reference_chosen: torch.Tensor,
             reference_rejected: torch.Tensor, policy_kl: torch.Tensor | None, reference_kl: torch.Tensor | None,
             beta: float, desirable_weight: float = 1.0, undesirable_weight: float = 1.0) -> torch.Tensor:
    if policy_kl is None or reference_kl is None:
        kl = torch.zeros((), device=policy_chosen.device)
    else:
        kl = (policy_kl - reference_kl).mean().detach().clamp(min=0)
    chosen = 1 - torch.sigmoid(beta * ((policy_chosen - reference_chosen) - kl))
    rejected = 1 - torch.sigmoid(beta * (kl - (policy_rejected - reference_rejected)))
    return torch.cat([desirable_weight * chosen, undesirable_weight * rejected]).mean()


def preference_loss(name: str, logps: PairLogps, beta: float, nll_weight: float = 1.0) -> torch.Tensor:
    """The training loss ``name`` (one of LOSSES) of a micro-batch."""
    if name == "dpo":
        return dpo_loss(logps.policy_chosen, logps.policy_rejected, logps.reference_chosen, logps.reference_rejected, beta)
    if name == "nll":
        return nll_loss(logps.policy_chosen, logps.chosen_lengths)
    if name == "dpo_nll":
        return (dpo_loss(logps.policy_chosen, logps.policy_rejected, logps.reference_chosen, logps.reference_rejected, beta)
                + nll_weight * nll_loss(logps.policy_chosen, logps.chosen_lengths))
    if name == "kto":
        return kto_loss(logps.policy_chosen, logps.policy_rejected, logps.reference_chosen, logps.reference_rejected,
                        logps.policy_kl, logps.reference_kl, beta)
    raise ValueError(f"unknown loss {name!r}; accepted: {', '.join(LOSSES)}")


def pair_losses(name: str, logps: PairLogps, beta: float, nll_weight: float = 1.0) -> torch.Tensor:
    """Each pair's share of ``preference_loss`` (its mean over the micro-batch's pairs equals that loss, up to
    rounding): what a method that routes prompts to reward models learns from, prompt by prompt. Detached."""
    with torch.no_grad():
        margin = (logps.policy_chosen - logps.reference_chosen) - (logps.policy_rejected - logps.reference_rejected)
        dpo = -F.logsigmoid(beta * margin)
        nll = -(logps.policy_chosen / logps.chosen_lengths.clamp(min=1))
        if name == "dpo":
            return dpo
        if name == "nll":
            return nll
        if name == "dpo_nll":
            return dpo + nll_weight * nll
        if name == "kto":
            if logps.policy_kl is None or logps.reference_kl is None:
                kl = torch.zeros((), device=logps.policy_chosen.device)
            else:
                kl = (logps.policy_kl - logps.reference_kl).mean().clamp(min=0)
            chosen = 1 - torch.sigmoid(beta * ((logps.policy_chosen - logps.reference_chosen) - kl))
            rejected = 1 - torch.sigmoid(beta * (kl - (logps.policy_rejected - logps.reference_rejected)))
            return (chosen + rejected) / 2
    raise ValueError(f"unknown loss {name!r}; accepted: {', '.join(LOSSES)}")


def needs_reference(name: str) -> bool:
    return name != "nll"
