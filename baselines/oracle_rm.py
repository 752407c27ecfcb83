"""Oracle RM: for each batch, the reward model the run's profile measured as most competent on the batch's
category (AUC of its score against correctness on the policy's own samples). An upper bound for methods
that choose an RM per batch, not a method one could run without the gold answers the profile used.
"""

from __future__ import annotations

from harness.selection.method import BatchContext, Declaration, Method, Reporting, RewardChoice


class OracleRM(Method):
    description = "the profile's most competent RM for each batch's category (an upper bound; needs profile:)"
    declared = Declaration(needs_profile=True, report=Reporting(row="Oracle RM (profile)", short="Oracle", rank=70, role="oracle"))

    def select(self, context: BatchContext) -> RewardChoice:
        if not self.profile:
            raise ValueError("oracle_rm chooses from the run's profile, and this run has none (add a profile: section)")
        best = self.profile["best_rm"]
        rated = [rm for rm in best.values() if rm]  # a category with no right (or no wrong) sample rates no RM
        choice = best.get(context.category) or best.get("all") or (rated[0] if rated else self.reward_models[0])
        return RewardChoice((choice,))
