"""RM agreement ensemble (review discussion, Wilcoxon table "LASeR vs. RM Agree. Ensemble"): every RM scores
every response, as in the offline ensemble, but a preference pair is made only from responses whose order
``min_agreement`` of the RMs agree on (all of them by default); the chosen one is then ranked by the mean
score. It trains on the preferences its RMs do not conflict on (paper sec. 5, Fig. 5). The review names this
ensemble without defining it: this definition is the project's own (docs/methods.md, "The project's own choices").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.config.errors import ConfigError
from harness.config.ranges import RANGE, range_of
from harness.selection.combiners import AgreementConfig
from harness.selection.method import BatchContext, Declaration, Method, Reporting, RewardChoice, check_reward_model


@dataclass
class AgreementEnsembleConfig:
    min_agreement: float = field(default=1.0, metadata={"help": "Share of the RMs that must prefer the chosen response.",
                                                        RANGE: range_of(AgreementConfig, "min_agreement")})
    members: list[str] | None = field(default=None, metadata={"help": "RMs that vote; default: the whole pool."})


class AgreementEnsemble(Method):
    Config = AgreementEnsembleConfig
    description = ("RM agreement ensemble (the project's definition; the review names it without one): pairs only where "
                   "the RMs agree on the order, ranked by the mean score")
    declared = Declaration(report=Reporting(row="RM Agreement Ensemble", variant_row="RM Agreement Ensemble [{label}]",
                                            short="RM Agree. Ensemble", rank=35, fixed_choice=True))

    def validate(self) -> None:
        members = self.config.members or self.reward_models
        if len(members) < 2:
            raise ConfigError(f"method agreement_ensemble: needs at least two reward models to agree, got {list(members)}")
        for i, name in enumerate(members):
            check_reward_model(f"method.args.members[{i}]", name, self.reward_models)

    def select(self, context: BatchContext) -> RewardChoice:
        members = tuple(self.config.members or self.reward_models)
        return RewardChoice(members, "agreement", {"min_agreement": self.config.min_agreement})
