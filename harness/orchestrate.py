"""``python -m harness sweep`` and ``status``: expand a sweep, run what is not finished, summarise.

The sweep's folder ``<out>/<name>/`` gets a manifest, ``sweep.json`` (the sweep config and every run's
id and folder), so ``status`` and ``report`` work from the store alone.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from harness.dataclass_parse import ConfigError, to_dict
from harness.executors import ExecutorConfig, run_all
from harness.io import write_json_atomic
from harness.runner import DONE, FAILED, read_error, run_state
from harness.sweep import expand, load_sweep, sweep_root

MANIFEST = "sweep.json"


def run_setup_hooks(setup: dict[str, Any]) -> None:
    """Work a sweep needs done once before its runs (e.g. building the synthetic world's models)."""
    for name, args in setup.items():
        if name == "world":
            from harness.world import ensure_world

            ensure_world(**(args or {}))
        else:
            raise ConfigError(f"setup: unknown hook {name!r}; accepted: world")


def write_manifest(root: Path, sweep, specs, source: str) -> None:
    write_json_atomic(root / MANIFEST, {
        "name": sweep.name, "source": source, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "sweep": to_dict(sweep),
        "runs": [{"run_id": s.run_id, "task": s.task, "method": s.method_label, "method_name": s.config.method.name,
                  "seed": s.seed, "axes": s.axes, "out": str(s.folder)} for s in specs],
    })


def run_sweep(path: str, overrides: list[str], out: str, executor: ExecutorConfig, report: bool = True) -> int:
    sweep = load_sweep(path, overrides)
    started = time.perf_counter()
    run_setup_hooks(sweep.setup)
    specs = expand(sweep, out, source=path)
    root = sweep_root(sweep, out)
    write_manifest(root, sweep, specs, path)
    todo = [s for s in specs if run_state(s.folder) != DONE]
    counts = {"done": len(specs) - len(todo), "failed": 0, "busy": 0}
    print(f"sweep {sweep.name}: {len(specs)} runs, {counts['done']} already finished, {len(todo)} to run "
          f"({executor.kind}, {executor.workers} worker(s)) -> {root}", flush=True)
    failures: list[tuple[str, str]] = []
    from tqdm import tqdm

    with tqdm(total=len(specs), initial=counts["done"], desc=sweep.name, unit="run", file=sys.stdout, dynamic_ncols=True) as bar:
        for result in run_all([s.config for s in todo], executor):
            status = result["status"]
            if status in ("done", "skipped"):
                counts["done"] += 1
            elif status == "failed":
                counts["failed"] += 1
                failures.append((result["out"], result.get("error", "")))
            else:
                counts["busy"] += 1
            bar.update(1)
            bar.set_postfix(done=counts["done"], failed=counts["failed"], busy=counts["busy"],
                            remaining=len(specs) - counts["done"] - counts["failed"] - counts["busy"])
    elapsed = time.perf_counter() - started
    print(f"sweep {sweep.name} finished in {elapsed:.1f}s: {counts['done']} done, {counts['failed']} failed, "
          f"{counts['busy']} running elsewhere", flush=True)
    for folder, error in failures:
        print(f"  FAILED {folder}: {error} (traceback in {folder}/error.json)")
    if sweep.compare is not None:
        from harness.comparisons import run_comparisons

        judged = run_comparisons(sweep, specs, root)
        print(f"comparisons: {judged['done']} judged, {judged['skipped']} already judged, {judged['waiting']} waiting for runs")
    if report and counts["done"]:
        from harness.report import write_report

        report_dir = root / "report"
        written = write_report(root, report_dir)
        print(f"report: {len(written)} files in {report_dir}")
    return 1 if failures else 0


def sweep_status(root: str | Path) -> int:
    root = Path(root)
    manifest = root / MANIFEST
    if not manifest.exists():
        raise ConfigError(f"{manifest} not found: point status at a sweep folder (<out>/<sweep name>)")
    runs = json.loads(manifest.read_text())["runs"]
    rows = []
    for run in runs:
        folder = Path(run["out"])
        state = run_state(folder)
        detail = ""
        if state == DONE:
            metrics = json.loads((folder / "metrics.json").read_text())
            test = metrics["test"]
            detail = ", ".join(f"{k}={test[k]:.4f}" for k in ("accuracy", "score", "mean_output_chars") if k in test)
        elif state == FAILED:
            detail = read_error(folder)[:80]
        elif (folder / "iterations.jsonl").exists():
            detail = f"{len((folder / 'iterations.jsonl').read_text().splitlines())} iteration(s)"
        rows.append((run["run_id"], state, detail))
    width = max(len(r[0]) for r in rows)
    for run_id, state, detail in rows:
        print(f"{run_id:{width}s}  {state:8s}  {detail}")
    totals: dict[str, int] = {}
    for _, state, _ in rows:
        totals[state] = totals.get(state, 0) + 1
    print("total: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))
    return 0


def compare_sweep(path: str, overrides: list[str], out: str, force: bool = False, report: bool = True) -> int:
    """``python -m harness compare``: (re)judge a sweep's pairs from its stored outputs, then its report."""
    from harness.comparisons import run_comparisons

    sweep = load_sweep(path, overrides)
    if sweep.compare is None:
        raise ConfigError(f"{path}: no 'compare' section (judge and pairs of method labels)")
    specs = expand(sweep, out, source=path, check_data=False)
    root = sweep_root(sweep, out)
    judged = run_comparisons(sweep, specs, root, force=force)
    print(f"comparisons: {judged['done']} judged, {judged['skipped']} already judged, {judged['waiting']} waiting for runs")
    if report:
        from harness.report import write_report

        written = write_report(root, root / "report")
        print(f"report: {len(written)} files in {root / 'report'}")
    return 0
