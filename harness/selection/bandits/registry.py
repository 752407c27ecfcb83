"""Bandits by name (LASeR's ``method.args.bandit``), built from their hyper-parameters and a ``BanditContext``."""

from __future__ import annotations

from harness.config.registry import Registry
from harness.selection.bandits.base import Bandit, BanditContext

BANDITS: Registry[type[Bandit]] = Registry("bandit", {
    "linucb": "harness.selection.bandits.linucb:LinUCB",
    "exp3": "harness.selection.bandits.exp3:Exp3",
    "lints": "harness.selection.bandits.thompson:LinTS",
    "gaussian_ts": "harness.selection.bandits.thompson:GaussianTS",
    "neural_ucb": "harness.selection.bandits.neural_ucb:NeuralUCB",
}, base=Bandit, context=BanditContext)
