"""How the scores of the reward models a method chose for a batch become one score per response.

A combiner takes the table of raw scores (RM name -> one score per response of the batch, in the order
of the choice) and returns one score per response; preference pairs are then drawn from that score.
``single`` passes one RM through; ``mean`` averages; ``standardized_mean`` z-scores each RM over the
batch first, so an RM with a wide scale does not dominate. A new combiner is one class here (or in your
own file) plus one line in ``COMBINERS``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np

from harness.config.registry import NoArgs, Registry


class Combiner:
    Config: ClassVar[type] = NoArgs
    description: ClassVar[str] = ""

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()

    def combine(self, table: Mapping[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError


class Single(Combiner):
    description = "the one chosen RM's scores"

    def combine(self, table):
        if len(table) != 1:
            raise ValueError(f"combine 'single' takes one reward model, got {list(table)}")
        return next(iter(table.values()))


class Mean(Combiner):
    description = "the mean of the chosen RMs' raw scores"

    def combine(self, table):
        return np.mean(list(table.values()), axis=0)


class StandardizedMean(Combiner):
    description = "the mean of the chosen RMs' scores, each z-scored over the batch first"

    def combine(self, table):
        columns = []
        for scores in table.values():
            spread = scores.std()
            columns.append((scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores))
        return np.mean(columns, axis=0)


COMBINERS: Registry[type[Combiner]] = Registry("reward combiner", {
    "single": "harness.selection.combiners:Single",
    "mean": "harness.selection.combiners:Mean",
    "standardized_mean": "harness.selection.combiners:StandardizedMean",
}, base=Combiner)
