"""Pairwise judges of two policies' outputs (AlpacaEval's preference encoding) and the win rates computed
from their annotations with alpaca_eval's own code."""
