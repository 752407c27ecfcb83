"""Preference losses on per-sequence log-probabilities: DPO, length-normalised NLL, DPO+NLL and KTO.

Hand-written on summed completion log-probabilities (one forward pass per sequence feeds every loss);
``tests/loop/test_losses.py`` checks them against TRL's DPOTrainer/KTOTrainer loss code on the same tensors.
DPO (Rafailov et al.):  -log sigmoid(beta [(log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l))]).
NLL (paper eq. 1):       -log pi(y_w | x) / |y_w|, averaged over pairs.
KTO (Ethayarajh et al., TRL's form): chosen as desirable, rejected as undesirable, with the KL term
estimated on mismatched (prompt, completion) pairs, detached and clamped at 0.

Each is a ``Loss`` in the registry ``LOSSES`` (``train.loss``), built from its settings (a ``Config`` whose fields are
the ``train`` settings it reads, e.g. ``beta``) and a ``LossContext`` by ``build_loss``. A new loss is one class and
one registry line, and its name in ``TrainConfig.loss``'s accepted values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from harness.config.ranges import RANGE, range_of
from harness.config.registry import NoArgs, Registry
from harness.config.schema import TrainConfig


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


@dataclass
class LossContext:
    """What a loss is built from besides its settings: nothing yet."""


@dataclass
class BetaConfig:
    beta: float = field(default=TrainConfig.beta, metadata={"help": "train.beta: the strength of the KL penalty.",
                                                            RANGE: range_of(TrainConfig, "beta")})


@dataclass
class DpoNllConfig(BetaConfig):
    nll_weight: float = field(default=TrainConfig.nll_weight, metadata={"help": "train.nll_weight: the NLL term's weight.",
                                                                        RANGE: range_of(TrainConfig, "nll_weight")})


class Loss:
    """A training loss of a micro-batch of pairs: its value, and each pair's share of it (what a method routing
    prompts to reward models learns from)."""

    Config: ClassVar[type] = NoArgs
    description: ClassVar[str] = ""
    needs_reference: ClassVar[bool] = True    # the reference's log-probs (else they stay zero, and no pass is made)
    needs_mismatched: ClassVar[bool] = False  # KTO: log-probs of mismatched (prompt, completion) pairs for its KL term

    @classmethod
    def from_config(cls, config: Any, context: LossContext) -> Loss:
        return cls(config)

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()

    def terms(self, logps: PairLogps) -> tuple[torch.Tensor, torch.Tensor]:
        """The micro-batch's loss and each pair's share of it (detached; their mean is the loss, up to rounding)."""
        raise NotImplementedError


def _policy(logps: PairLogps) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    return logps.policy_chosen, logps.policy_rejected, logps.reference_chosen, logps.reference_rejected


class Dpo(Loss):
    Config = BetaConfig
    description = "DPO (Rafailov et al.): -log sigmoid(beta x the chosen-over-rejected margin against the reference)"

    def terms(self, logps):
        dpo = dpo_terms(*_policy(logps), self.config.beta)
        return dpo.mean(), dpo.detach()


class Nll(Loss):
    description = "the length-normalised NLL of the chosen response (paper eq. 1), no reference"
    needs_reference = False

    def terms(self, logps):
        nll = nll_terms(logps.policy_chosen, logps.chosen_lengths)
        return nll.mean(), nll.detach()


class DpoNll(Loss):
    Config = DpoNllConfig
    description = "DPO + nll_weight x NLL of the chosen response (the paper's loss, eq. 1)"

    def terms(self, logps):
        dpo = dpo_terms(*_policy(logps), self.config.beta)
        nll = nll_terms(logps.policy_chosen, logps.chosen_lengths)
        return dpo.mean() + self.config.nll_weight * nll.mean(), (dpo + self.config.nll_weight * nll).detach()


class Kto(Loss):
    Config = BetaConfig
    description = "KTO (Ethayarajh et al., TRL's form): chosen as desirable, rejected as undesirable, batch KL term"
    needs_mismatched = True

    def terms(self, logps):
        chosen, rejected = kto_terms(*_policy(logps), logps.policy_kl, logps.reference_kl, self.config.beta)
        return torch.cat([chosen, rejected]).mean(), ((chosen + rejected) / 2).detach()


LOSSES: Registry[type[Loss]] = Registry("training loss", {
    "dpo": "harness.loop.losses:Dpo",
    "nll": "harness.loop.losses:Nll",
    "dpo_nll": "harness.loop.losses:DpoNll",
    "kto": "harness.loop.losses:Kto",
}, base=Loss, context=LossContext)


def build_loss(train: TrainConfig) -> Loss:
    """The loss ``train.loss``, its settings read from ``train`` (its Config's fields are ``train`` settings)."""
    settings = {f.name: getattr(train, f.name) for f in dataclasses.fields(LOSSES.config_class(train.loss))}
    return LOSSES.build(train.loss, settings, LossContext(), prefix="train")


def preference_losses(name: str, logps: PairLogps, beta: float, nll_weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The training loss ``name`` (an entry of LOSSES) of a micro-batch, and each pair's share of it."""
    return build_loss(TrainConfig(loss=name, beta=beta, nll_weight=nll_weight)).terms(logps)  # type: ignore[arg-type]


def preference_loss(name: str, logps: PairLogps, beta: float, nll_weight: float = 1.0) -> torch.Tensor:
    """The training loss ``name`` (an entry of LOSSES) of a micro-batch."""
    return preference_losses(name, logps, beta, nll_weight)[0]
