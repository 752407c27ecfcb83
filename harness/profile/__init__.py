"""On-policy reward-model competence: how well each RM tells the policy's own correct samples from its
incorrect ones, per prompt category (``python -m harness profile``), and the per-step selection accuracy and
regret of a run measured against it."""
