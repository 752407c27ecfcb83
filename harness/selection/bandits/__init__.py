"""Multi-armed bandits for reward-model selection (LinUCB, Exp3) and the quantile scaling of their reward."""
