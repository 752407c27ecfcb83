"""What the report knows about a run's method: the reporting record the run wrote into its ``config.json`` when
it started (``"reporting"``: its row, variant row, short name, rank, whether its choice is fixed, calibration role
and fixed RM; see ``harness.selection.reporting``). The report imports no method code, so a user's method module
need not be importable here; a run without the record (never started, or from an older store) is shown under its
sweep label as a selecting method."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BEST_RM_ROW, AVG_RM_ROW = "Best RM", "Avg. RM"  # report-level rows derived from the single-RM runs
BEST_RM_RANK, AVG_RM_RANK = 10, 20
UNRECORDED_RANK = 90  # a run without a reporting record sorts among the other selecting methods


@dataclass(frozen=True)
class RunRow:
    """A run's place in the tables."""

    row: str
    rank: int
    short: str
    selects: bool            # its choice varies from batch to batch (utilisation, MAB reward, regret)
    role: str                # calibration role: 'start', 'gold', 'oracle' or ''
    fixed_rm: str            # the one RM of a single-RM run, else ''
    start_suffix: str = ""   # a run trained from another start than policy.model: e.g. " [from SFT]" (in ``row``)


def run_row(name: str, label: str, record: Any) -> RunRow:
    """The row of a run of method ``name`` under sweep label ``label``, from its reporting record: "RM: <name>" for
    a single-RM run, the method's own row under its own name, its variant row ("... [{label}]") under another label;
    a run that started from the SFT policy (``train.start``) adds the record's ``start_suffix`` (" [from SFT]")."""
    if not isinstance(record, dict):
        return RunRow(label, UNRECORDED_RANK, label, True, "", "")
    single = record.get("fixed_rm") or ""
    if single:
        row = f"RM: {single}"
    elif label == name:
        row = record.get("row") or label
    else:
        row = record.get("variant_row", "{label}").format(label=label)
    suffix = record.get("start_suffix") or ""
    return RunRow(row + suffix, record.get("rank", UNRECORDED_RANK), (record.get("short") or row) + suffix,
                  not record.get("fixed_choice", False), record.get("role", ""), single, suffix)
