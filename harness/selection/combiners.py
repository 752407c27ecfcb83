"""How the scores of the reward models a method chose for a batch become one score per response.

A combiner gets a score table, responses x RMs (columns in the order of the choice), and returns one score
per response; preference pairs are then drawn from that score within each prompt's group of responses.
Most combiners see one prompt group at a time (``scope = "group"``); a ``"batch"`` combiner sees the whole
batch at once (e.g. to z-score each RM over the batch). A combiner's settings are a dataclass ``Config``,
given as ``combine_args`` beside ``combine`` in a method's arguments.

- ``single``: the one chosen RM's scores;
- ``mean``: the mean of the raw scores; ``standardized_mean``: each RM z-scored over the batch first;
- ``min``: worst-case optimisation (WCO) and ``uwo``: uncertainty-weighted optimisation, the mean minus
  ``weight`` x the RMs' variance, both from Coste et al., "Reward Model Ensembles Help Mitigate
  Overoptimization" (ICLR 2024);
- ``normalize_then_sum``: each RM standardised within the prompt group, then summed (GDPO, arXiv 2601.05242;
  TRL's ``multi_objective_aggregation="normalize_then_sum"``, with the same sample std and 1e-4);
- ``rank_mean``: the mean over RMs of each response's rank within its group (ties share their mean rank);
- ``agreement``: the mean of the raw scores, but a response is preferred to another only where at least
  ``min_agreement`` of the RMs (all of them by default) score it strictly higher: the review discussion's
  "RM agreement ensemble", which trains only on the preferences its RMs agree on.

A combiner is built from its settings and a ``CombinerContext`` (``COMBINERS.build(name, combine_args,
CombinerContext())``). A combiner may also restrict which pairs exist (``admissible``: a responses x responses mask per prompt group,
True where response i may be chosen over response j); by default every strictly ordered pair may.

A new combiner is one class (here or in your own file) plus one line in ``COMBINERS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy.stats import rankdata

from harness.config.ranges import RANGE, at_least, between
from harness.config.registry import NoArgs, Registry

GDPO_EPSILON = 1e-4  # TRL's GRPOTrainer adds it to each reward's group std


@dataclass
class CombinerContext:
    """What a combiner is built from besides its settings: nothing yet."""


class Combiner:
    Config: ClassVar[type] = NoArgs
    description: ClassVar[str] = ""
    scope: ClassVar[str] = "group"   # "group": one prompt group's responses at a time; "batch": the whole batch

    @classmethod
    def from_config(cls, config: Any, context: CombinerContext) -> Combiner:
        return cls(config)

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()

    def combine(self, scores: np.ndarray) -> np.ndarray:
        """``scores``: responses x RMs -> one score per response."""
        raise NotImplementedError

    def admissible(self, scores: np.ndarray) -> np.ndarray | None:
        """One prompt group's ``scores`` (responses x RMs) -> where response i may be chosen over j, or None
        (every pair the combined score orders)."""
        return None


class Single(Combiner):
    description = "the one chosen RM's scores"

    def combine(self, scores):
        if scores.shape[1] != 1:
            raise ValueError(f"combine 'single' takes one reward model, got {scores.shape[1]}")
        return scores[:, 0]


class Mean(Combiner):
    description = "the mean of the chosen RMs' raw scores"

    def combine(self, scores):
        return scores.mean(axis=1)


class StandardizedMean(Combiner):
    description = "the mean of the chosen RMs' scores, each z-scored over the batch first"
    scope = "batch"

    def combine(self, scores):
        spread = scores.std(axis=0)
        safe = np.where(spread > 0, spread, 1.0)
        return np.where(spread > 0, (scores - scores.mean(axis=0)) / safe, 0.0).mean(axis=1)


class WorstCase(Combiner):
    description = "worst-case optimisation (WCO, Coste et al. 2024): the lowest of the chosen RMs' scores"

    def combine(self, scores):
        return scores.min(axis=1)


@dataclass
class UncertaintyWeightedConfig:
    weight: float = field(default=0.5, metadata={"help": "lambda: how much the RMs' disagreement (variance) costs.",
                                                 RANGE: at_least(0)})


class UncertaintyWeighted(Combiner):
    Config = UncertaintyWeightedConfig
    description = "uncertainty-weighted optimisation (UWO, Coste et al. 2024): mean - lambda x variance over the RMs"

    def combine(self, scores):
        return scores.mean(axis=1) - self.config.weight * scores.var(axis=1)


@dataclass
class NormalizeThenSumConfig:
    weights: list[float] | None = field(default=None, metadata={"help": "One weight per chosen RM (default: all 1)."})


class NormalizeThenSum(Combiner):
    Config = NormalizeThenSumConfig
    description = "GDPO: each RM standardised within the prompt group (sample std + 1e-4), then a weighted sum"

    def combine(self, scores):
        weights = np.ones(scores.shape[1]) if self.config.weights is None else np.asarray(self.config.weights, float)
        if weights.shape != (scores.shape[1],):
            raise ValueError(f"combine_args.weights: expected {scores.shape[1]} weights (one per RM), got {len(weights)}")
        if scores.shape[0] < 2:  # one response: nothing to standardise against
            return np.zeros(scores.shape[0])
        normalised = (scores - scores.mean(axis=0)) / (scores.std(axis=0, ddof=1) + GDPO_EPSILON)
        return normalised @ weights


class RankMean(Combiner):
    description = "the mean over the chosen RMs of each response's rank within its prompt group"

    def combine(self, scores):
        return rankdata(scores, method="average", axis=0).mean(axis=1)


@dataclass
class AgreementConfig:
    min_agreement: float = field(default=1.0, metadata={
        "help": "The share of the RMs that must prefer the chosen response (1.0: all of them).",
        RANGE: between(0, 1, low_open=True)})


class Agreement(Combiner):
    Config = AgreementConfig
    description = ("RM agreement ensemble (the project's definition: the review names it, defines it nowhere): the mean "
                   "score, pairs only where min_agreement of the RMs prefer the same response")

    def combine(self, scores):
        return scores.mean(axis=1)

    def admissible(self, scores):
        prefers = scores[:, None, :] > scores[None, :, :]        # i x j x RM: RM scores i above j
        return prefers.mean(axis=2) >= self.config.min_agreement - 1e-12


COMBINERS: Registry[type[Combiner]] = Registry("reward combiner", {
    "single": "harness.selection.combiners:Single",
    "mean": "harness.selection.combiners:Mean",
    "standardized_mean": "harness.selection.combiners:StandardizedMean",
    "min": "harness.selection.combiners:WorstCase",
    "uwo": "harness.selection.combiners:UncertaintyWeighted",
    "normalize_then_sum": "harness.selection.combiners:NormalizeThenSum",
    "rank_mean": "harness.selection.combiners:RankMean",
    "agreement": "harness.selection.combiners:Agreement",
}, base=Combiner, context=CombinerContext)


def combine_groups(combiner: Combiner, scores: np.ndarray, group_size: int) -> np.ndarray:
    """One score per response of a batch whose ``scores`` rows are prompt groups of ``group_size`` in a row."""
    if combiner.scope == "batch":
        return combiner.combine(scores)
    groups = scores.reshape(-1, group_size, scores.shape[1])
    return np.concatenate([combiner.combine(group) for group in groups])


def admissible_groups(combiner: Combiner, scores: np.ndarray, group_size: int) -> list[np.ndarray | None]:
    """Per prompt group of ``scores`` (rows in groups of ``group_size``), the combiner's pair mask or None."""
    groups = scores.reshape(-1, group_size, scores.shape[1])
    return [combiner.admissible(group) for group in groups]
