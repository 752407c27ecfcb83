"""The reference quickstart report (reports/quickstart, the README's numbers) recomputed from the JSON files
of its run store (tests/assets/quickstart_store, made by reports/regenerate.sh): report code that drifts from
what produced the README fails here."""

from __future__ import annotations

import json
from pathlib import Path

from harness.report.provenance import describe_environment
from harness.report.write import write_report

ROOT = Path(__file__).resolve().parents[2]
STORE, REFERENCE = ROOT / "tests" / "assets" / "quickstart_store", ROOT / "reports" / "quickstart"
# files that need what the snapshot leaves out: per-example predictions (McNemar), per-response RM scores
NEEDS_BULKY_FILES = {"mcnemar.md", "mcnemar.csv", "fig_rm_agreement.csv"}  # per-response scores, per test answer


def test_the_quickstart_report_recomputes_from_its_stored_runs(tmp_path):
    written = write_report(STORE, tmp_path)
    compared = []
    for path in written:
        if path.suffix not in (".md", ".csv", ".tex", ".json") or path.name == "README.md":
            continue
        reference = REFERENCE / path.name
        assert reference.exists(), f"{path.name} is not in {REFERENCE}: run bash reports/regenerate.sh --no-run"
        assert path.read_text() == reference.read_text(), f"{path.name} differs from {reference}"
        compared.append(path.name)
    missing = {p.name for p in REFERENCE.iterdir() if p.suffix in (".md", ".csv", ".tex", ".json")} - set(compared)
    assert missing <= NEEDS_BULKY_FILES | {"README.md"}, f"no longer written: {sorted(missing)}"
    assert {"table1.md", "calibration.md", "wilcoxon.md", "selection_accuracy.md"} <= set(compared)
    # the machine the README's numbers were measured on, as every run recorded it, in the report and its page
    stored = json.loads(next(STORE.rglob("config.json")).read_text())["environment"]
    named = f"Measured on: {describe_environment(stored)} (all 75 finished runs)."
    assert stored["machine"]["cpu_capability"] and named in (tmp_path / "README.md").read_text()
    assert named in (tmp_path / "index.html").read_text()
