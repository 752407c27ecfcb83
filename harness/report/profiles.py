"""The RM profile tables (on-policy competence, ``harness.profile``) from the ``profile.json`` files runs
stored: one table of AUCs and one of within-prompt pairwise accuracies per profiled (task, policy), rows the
reward models, columns the prompt categories; ± is the half-width of the 95% bootstrap interval. A profile of
version 2 or later adds a table of the normalised within-prompt reward std and one of the mean pair margin."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from harness.common.files import read_json
from harness.report.tables import Cell, Table
from harness.store.layout import PROFILE


def stored_profiles(folders: Iterable[str | Path]) -> list[dict[str, Any]]:
    """The distinct profiles stored in the given run folders (by their content key), in folder order."""
    seen: dict[str, dict[str, Any]] = {}
    for folder in folders:
        path = Path(folder) / PROFILE
        if path.exists():
            profile = read_json(path)
            seen.setdefault(profile.get("key", str(path)), profile)
    return list(seen.values())


def _cell(competence: dict[str, Any], value: str, interval: str) -> Cell:
    low_high = competence.get(interval)
    spread = (low_high[1] - low_high[0]) / 2 if low_high else None
    return Cell(competence.get(value), spread, 2 if spread is not None else 1)


def profile_tables(profile: dict[str, Any], name: str = "profile") -> list[Table]:
    categories = list(profile["categories"])
    rms = list(profile["reward_models"]) + [r for r in next(iter(profile["categories"].values()))["reward_models"]
                                            if r not in profile["reward_models"]]
    facts = "; ".join(f"{c}: {v['prompts']} prompts, {v['samples']} samples, {100 * v['sample_accuracy']:.1f}% correct"
                      for c, v in profile["categories"].items())
    notes = [f"The untrained policy's own samples ({profile['num_samples']} per prompt) on the training prompts; {facts}.",
             "± is the half-width of the 95% bootstrap interval over prompts. Best bold, second underlined; "
             "correctness is the gold answer itself (a check, not a choice)."]
    tables = []
    for suffix, value, interval, title in (("auc", "auc", "auc_ci", "AUC of the RM's score against correctness"),
                                           ("pairwise", "pairwise_accuracy", "pairwise_ci",
                                            "Pairwise accuracy on (correct, incorrect) responses to the same prompt")):
        rows = {rm: [_cell(profile["categories"][c]["reward_models"].get(rm, {}), value, interval) for c in categories]
                for rm in rms}
        tables.append(Table(f"{name}_{suffix}", f"On-policy RM competence, {profile['task']}: {title}", [""], categories,
                            rows, decimals=3, footnotes=notes))
    if not any("reward_std" in c for v in profile["categories"].values() for c in v["reward_models"].values()):
        return tables  # measured before version 2
    scale = ("Divided by the std of the RM's scores over all the profile's samples (every category), so RMs on "
             "different scales compare; an RM that scores every sample alike has reward std 0 and no pair (--).")
    for suffix, value, title in (("reward_std", "reward_std", "within-prompt std of the RM's scores, mean over prompts"),
                                 ("margin", "mean_margin", "mean margin score(chosen) - score(rejected) of the pairs "
                                                           "the loop would build (train.pairs_per_prompt per prompt)")):
        rows = {rm: [Cell(profile["categories"][c]["reward_models"].get(rm, {}).get(value), None, 1) for c in categories]
                for rm in rms}
        tables.append(Table(f"{name}_{suffix}", f"On-policy reward signal, {profile['task']}: {title}", [""], categories,
                            rows, highlight="none", decimals=3, footnotes=[notes[0], scale]))
    return tables
