"""Copy the JSON files a report reads (the sweep.json manifest; each run's config, metrics, selections and
profile) from a run store into a small store for the tests, with run paths made relative, so that
``tests/report/test_report_regression.py`` can recompute the reference report without the models or the runs.

Usage: python reports/snapshot_store.py results/quickstart tests/assets/quickstart_store
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

KEPT = ("config.json", "metrics.json", "selections.jsonl", "profile.json")


def snapshot(store: Path, out: Path) -> None:
    manifest = json.loads((store / "sweep.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    for run in manifest["runs"]:
        for name in KEPT:
            source = store / run["run_id"] / name
            if source.exists():
                (out / run["run_id"]).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, out / run["run_id"] / name)
        run["out"] = run["run_id"]
    (out / "sweep.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    snapshot(Path(sys.argv[1]), Path(sys.argv[2]))
