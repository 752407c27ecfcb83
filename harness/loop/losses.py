"""Preference losses on per-sequence log-probabilities: DPO, length-normalised NLL, DPO+NLL and KTO.

Hand-written on summed completion log-probabilities (one forward pass per sequence feeds every loss);
``tests/loop/test_losses.py`` checks them against TRL's DPOTrainer/KTOTrainer loss code on the same tensors.
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


def dpo_terms(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, reference_chosen: torch.Tensor,
              reference_rejected: torch.Tensor, beta: float) -> torch.Tensor:
    """Each pair's DPO loss."""
    margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return -F.logsigmoid(beta * margin)


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, reference_chosen: torch.Tensor,
             reference_rejected: torch.Tensor, beta: float) -> torch.Tensor:
    return dpo_terms(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta).mean()


def nll_terms(policy_chosen: torch.Tensor, chosen_lengths: torch.Tensor) -> torch.Tensor:
    """Each pair's length-normalised NLL of its chosen response."""
    return -(policy_chosen / chosen_lengths.clamp(min=1))


def nll_loss(policy_chosen: torch.Tensor, chosen_lengths: torch.Tensor) -> torch.Tensor:
    return nll_terms(policy_chosen, chosen_lengths).mean()


def kto_terms(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, reference_chosen: torch.Tensor,
              reference_rejected: torch.Tensor, policy_kl: torch.Tensor | None, reference_kl: torch.Tensor | None,
              beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Each pair's KTO loss of its chosen (desirable) and of its rejected (undesirable) response."""
    if policy_kl is None or reference_kl is None:
        kl = torch.zeros((), device=policy_chosen.device)
    else:
        kl = (policy_kl - reference_kl).mean().detach().clamp(min=0)
    chosen = 1 - torch.sigmoid(beta * ((policy_chosen - reference_chosen) - kl))
    rejected = 1 - torch.sigmoid(beta * (kl - (policy_rejected - reference_rejected)))
    return chosen, rejected


def kto_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, reference_chosen: torch.Tensor,
             reference_rejected: torch.Tensor, policy_kl: torch.Tensor | None, reference_kl: torch.Tensor | None,
             beta: float, desirable_weight: float = 1.0, undesirable_weight: float = 1.0) -> torch.Tensor:
    chosen, rejected = kto_terms(policy_chosen, policy_rejected, reference_chosen, reference_rejected, policy_kl,
                                 reference_kl, beta)
    return torch.cat([desirable_weight * chosen, undesirable_weight * rejected]).mean()


def preference_losses(name: str, logps: PairLogps, beta: float, nll_weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The training loss ``name`` (one of LOSSES) of a micro-batch, and each pair's share of it (detached; their
    mean is the loss, up to rounding): what a method routing prompts to reward models learns from."""
    policy = (logps.policy_chosen, logps.policy_rejected, logps.reference_chosen, logps.reference_rejected)
    if name in ("dpo", "nll", "dpo_nll"):
        dpo = dpo_terms(*policy, beta) if name != "nll" else None
        nll = nll_terms(logps.policy_chosen, logps.chosen_lengths) if name != "dpo" else None
        if name == "dpo":
            return dpo.mean(), dpo.detach()
        if name == "nll":
            return nll.mean(), nll.detach()
        return dpo.mean() + nll_weight * nll.mean(), (dpo + nll_weight * nll).detach()
    if name == "kto":
        chosen, rejected = kto_terms(*policy, logps.policy_kl, logps.reference_kl, beta)
        return torch.cat([chosen, rejected]).mean(), ((chosen + rejected) / 2).detach()
    raise ValueError(f"unknown loss {name!r}; accepted: {', '.join(LOSSES)}")


def preference_loss(name: str, logps: PairLogps, beta: float, nll_weight: float = 1.0) -> torch.Tensor:
    """The training loss ``name`` (one of LOSSES) of a micro-batch."""
    return preference_losses(name, logps, beta, nll_weight)[0]


def needs_reference(name: str) -> bool:
    return name != "nll"
