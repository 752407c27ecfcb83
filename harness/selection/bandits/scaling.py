"""QuantileRewardScaler (appendix A.2, after Graves et al. 2017): a raw MAB reward is mapped to [0, 1] by the
20th/80th quantiles of the raw rewards seen before it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class QuantileRewardScaler:
    """Scales raw rewards by the low/high quantiles of the history of earlier raw rewards."""

    def __init__(self, low: float = 0.2, high: float = 0.8):
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(f"quantiles must satisfy 0 <= low < high <= 1, got {low}, {high}")
        self.low, self.high = low, high
        self.history: list[float] = []

    def scale(self, raw: float) -> float:
        """The scaled reward of ``raw`` given the history so far; then ``raw`` joins the history."""
        if not math.isfinite(raw):
            raise ValueError(f"MAB reward must be finite, got {raw}")
        if not self.history:
            scaled = 0.5  # nothing to compare with yet: the middle of the range
        else:
            q_lo, q_hi = np.quantile(np.asarray(self.history), [self.low, self.high])
            if raw < q_lo:
                scaled = 0.0
            elif raw > q_hi:
                scaled = 1.0
            elif q_hi == q_lo:
                scaled = 0.5
            else:
                scaled = float((raw - q_lo) / (q_hi - q_lo))
        self.history.append(float(raw))
        return scaled

    def state_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "history": list(self.history)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.low, self.high, self.history = state["low"], state["high"], list(state["history"])
