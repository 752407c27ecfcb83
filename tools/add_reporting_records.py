"""Add the reporting record to the runs of a store written before runs recorded it (``"reporting"`` in each run's
``config.json``: how the report shows the run, see ``harness.selection.reporting``), computed with the method
classes of this checkout. Without it the report shows such a run under its sweep label as a selecting method.

    python tools/add_reporting_records.py STORE [STORE ...]

A run that has the record already, and a ``config.json`` that is not a run's (a model's), are left as they are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.common.files import write_json_atomic
from harness.config.parse import from_dict
from harness.config.schema import RunConfig
from harness.selection.reporting import reporting_record


def add_records(store: Path) -> int:
    """The number of runs of ``store`` given a record."""
    added = 0
    for path in sorted(store.rglob("config.json")):
        stored = json.loads(path.read_text())
        if "reporting" in stored or not isinstance(stored.get("config"), dict) or "method" not in stored["config"]:
            continue
        stored["reporting"] = reporting_record(from_dict(RunConfig, stored["config"], prefix=str(path)))
        write_json_atomic(path, stored)
        added += 1
    return added


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        print(f"{argument}: {add_records(Path(argument))} runs given a reporting record")
