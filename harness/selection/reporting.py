"""The reporting record: how the report shows a run, written into the run's ``config.json`` (``"reporting"``) when
the run starts, so that the report reads files only and never imports a method (a user's module included).

The record is the method's ``Reporting`` declaration and the one RM it fixes for these settings::

    {"row": "LASeR (Ours)", "variant_row": "LASeR [{label}]", "short": "LASeR", "rank": 100,
     "fixed_choice": false, "role": "", "fixed_rm": ""}

``harness.report.methods`` turns it into the run's row under its sweep label; a run without one (never started,
or from an older store) is shown under its label as a selecting method of rank 90. A run whose training starts from
another policy than ``policy.model`` (``train.start``) adds ``"start_suffix": " [from SFT]"``, which the report
appends to its rows, so that a run from SFT is never averaged with one from the base model.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from harness.config.schema import RunConfig
from harness.selection.method import MethodContext
from harness.selection.registry import build_method

START_SUFFIXES = {"sft": " [from SFT]"}  # train.start -> the suffix of the run's rows ('base': none)


def reporting_record(run: RunConfig) -> dict[str, Any]:
    """The record of a run config's method (built for the run's settings; its declaration needs no profile)."""
    method = build_method(run.method.name, run.method.args, MethodContext.of_run(run))
    record = {**asdict(method.declared.report), "fixed_rm": method.declared.fixed_rm}
    if run.train.start in START_SUFFIXES:
        record["start_suffix"] = START_SUFFIXES[run.train.start]
    return record
