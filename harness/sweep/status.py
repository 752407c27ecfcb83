"""``python -m harness status``: the state of every run of a sweep, read from the store alone."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from harness.common.files import read_jsonl
from harness.config.errors import ConfigError
from harness.sweep.layout import DONE, FAILED, ITERATIONS, MANIFEST, finished_metrics, read_error, read_manifest, run_state


def sweep_status(root: str | Path) -> int:
    rows = []
    for run in read_manifest(Path(root))["runs"]:
        folder = Path(run["out"])
        state = run_state(folder)
        detail = ""
        if state == DONE:
            test = finished_metrics(folder)["test"]
            detail = ", ".join(f"{k}={test[k]:.4f}" for k in ("accuracy", "score", "mean_output_chars") if k in test)
        elif state == FAILED:
            detail = read_error(folder)[:80]
        elif (folder / ITERATIONS).exists():
            detail = f"{len(read_jsonl(folder / ITERATIONS))} iteration(s)"
        rows.append((run["run_id"], state, detail))
    if not rows:
        raise ConfigError(f"{Path(root) / MANIFEST}: the sweep lists no runs")
    width = max(len(r[0]) for r in rows)
    for run_id, state, detail in rows:
        print(f"{run_id:{width}s}  {state:8s}  {detail}")
    totals = Counter(state for _, state, _ in rows)
    print("total: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))
    return 0


def status_command(args) -> int:
    """``python -m harness status SWEEP_DIR``."""
    return sweep_status(args.sweep_dir)
