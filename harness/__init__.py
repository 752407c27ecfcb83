"""harness: reproduce LASeR (adaptive reward-model selection with multi-armed bandits) and its baselines."""

__version__ = "0.2.0"
