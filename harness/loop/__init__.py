"""The loop of one run (paper Algorithm 1): per batch the method picks the reward, the policy samples, the RM
scores, preference pairs train the policy one step, the method gets its feedback; evaluation, and the
best-of-n variant for inference only. ``run_config`` checks a whole run config against the registries."""
