"""``python -m harness sweep`` and ``compare``: expand a sweep, run its setup hooks, run what is not finished,
then judge its comparisons.

The sweep's folder ``<out>/<name>/`` gets a manifest, ``sweep.json`` (the sweep config and every run's
id and folder), so ``status`` and ``report`` work from the store alone. The report itself is written by
the command line (``harness.cli``) after the sweep: the sweep stage never imports the report stage.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from harness.common.files import read_json
from harness.config.errors import ConfigError
from harness.config.parse import to_dict
from harness.config.registry import Registry
from harness.config.schema import RunConfig
from harness.plan.runtime import resolve_memory
from harness.profile.build import measure_missing_profiles
from harness.store.format import LOCATION_KEYS
from harness.store.layout import CONFIG, DONE, ERROR, MANIFEST, RUN_LOG
from harness.store.manifest import read_manifest, write_manifest
from harness.store.migrate import migrate_store
from harness.store.run_folder import run_state
from harness.sweep.comparisons import run_comparisons
from harness.sweep.executors.base import Executor
from harness.sweep.expand import RunSpec, expand, load_sweep, sweep_root


@dataclass
class SetupContext:
    """What a setup hook is built from besides its settings: nothing yet."""


# Work a sweep needs done once before its runs. An entry is a class with a ``description``, a dataclass
# ``Config`` (the hook's settings under ``setup.<name>``), ``from_config(config, SetupContext)``, ``run(runs)`` (the
# run configs of the sweep, the work it prepares for) and
# optionally ``check()`` (a problem with the settings, "<key>: <problem>", or None; called before any run config
# is checked).
SETUP_HOOKS: Registry[type] = Registry("setup hook", {
    "world": "harness.world.build:WorldSetup",
}, context=SetupContext)


@dataclass
class SweepResult:
    root: Path
    done: int
    failed: int
    busy: int

    @property
    def exit_code(self) -> int:
        """Non-zero unless every run is finished: a run failed, or is still running in another process."""
        return 1 if self.failed or self.busy else 0


def setup_hooks(setup: dict[str, Any], source: str) -> list[Any]:
    """Each ``setup.<name>`` hook built with its settings, checked against the hook's Config."""
    hooks = []
    for name, args in setup.items():
        try:
            SETUP_HOOKS.get(name)
        except ConfigError as error:
            raise ConfigError(f"{source}: setup.{name}: {error}") from None
        try:
            hook = SETUP_HOOKS.build(name, args, SetupContext(), prefix=f"setup.{name}")  # errors name setup.<name>.<key>
            problem = hook.check() if hasattr(hook, "check") else None
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None
        if problem:
            raise ConfigError(f"{source}: setup.{name}.{problem}")
        hooks.append(hook)
    return hooks


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flat(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): data}


def planned(config: RunConfig) -> RunConfig | None:
    """The config with the memory settings its run will resolve (``harness.plan.runtime``), so a profile measured
    here samples as its would; None for a config whose plan is refused (left to its run, which records why)."""
    try:
        return dataclasses.replace(config, memory=resolve_memory(config)[0])
    except ConfigError:
        return None


def prepare_shared_work(configs: list[RunConfig]) -> None:
    """The RM profiles that the runs of ``configs`` share, measured once each before they start, a line each. A run
    from the SFT policy (``train.start: sft``) is left to measure its own, after its SFT stage: those differ per
    world and seed, so the sweep's workers train and measure them side by side (a worker that needs one being made
    by another waits for it)."""
    profiled = [resolved for config in configs
                if config.profile is not None and config.train.start == "base" and (resolved := planned(config)) is not None]
    for task, outcome in measure_missing_profiles(profiled):
        print(f"profile {task}: {outcome}", flush=True)


def check_store(specs: list[RunSpec]) -> None:
    """Refuse, in one line, a run whose folder already holds a run with other settings (a second sweep with
    other overrides on the same ``--out``): its results would be silently mixed with, or counted as, the new ones.
    Where the store lies (the run's ``out`` and ``cache_dir``) is not a setting: a moved store resumes."""
    for spec in specs:
        stored_file = spec.folder / CONFIG
        if not stored_file.exists():
            continue
        try:
            stored = read_json(stored_file)["config"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unreadable: the run counts as unfinished and is redone (harness.store.run_folder)
        new = json.loads(json.dumps(to_dict(spec.config), default=str))  # as stored
        old, new = ({k: v for k, v in _flat(c).items() if k not in LOCATION_KEYS} for c in (stored, new))
        differs = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
        if differs:
            shown = ", ".join(f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in differs[:3])
            more = f" (and {len(differs) - 3} more)" if len(differs) > 3 else ""
            raise ConfigError(f"{stored_file}: run {spec.run_id} already exists with other settings ({shown}{more}); "
                              "give this sweep another --out or name, or delete that run folder")


def manifest_entries(specs: list[RunSpec]) -> list[dict[str, Any]]:
    """Each run's entry in the store's manifest (``harness.store.manifest``)."""
    return [{"run_id": s.run_id, "task": s.task, "method": s.method_label, "method_name": s.config.method.name,
             "seed": s.seed, "axes": s.axes} for s in specs]


def run_sweep(path: str, overrides: list[str], out: str, executor: Executor) -> SweepResult:
    sweep = load_sweep(path, overrides)
    started = time.perf_counter()
    hooks = setup_hooks(sweep.setup, path)
    specs = expand(sweep, out, source=path)  # every run config checked before the (slow) setup work
    check_store(specs)
    root = sweep_root(sweep, out)
    previous = read_manifest(root) if (root / MANIFEST).exists() else None  # unreadable or newer: fails before the setup
    for hook in hooks:
        hook.run([s.config for s in specs])
    notice = migrate_store(root, previous) if previous is not None else None
    if notice:
        print(notice, flush=True)
        previous = read_manifest(root)
    write_manifest(root, {"name": sweep.name, "source": path, "sweep": to_dict(sweep)}, manifest_entries(specs), previous)
    todo = [s for s in specs if run_state(s.folder) != DONE]
    counts = {"done": len(specs) - len(todo), "failed": 0, "busy": 0}
    if executor.on_this_machine:  # here with every core, not by one worker while the others wait for it
        prepare_shared_work([s.config for s in todo])
    print(f"sweep {sweep.name}: {len(specs)} runs, {counts['done']} already finished, {len(todo)} to run "
          f"({executor.name}, {executor.workers} worker(s)) -> {root}", flush=True)
    failures: list[tuple[str, str]] = []
    elsewhere: list[Path] = []
    with tqdm(total=len(specs), initial=counts["done"], desc=sweep.name, unit="run", file=sys.stdout, dynamic_ncols=True) as bar:
        for result in executor.run([s.config for s in todo]):
            status = result["status"]
            if status in ("done", "skipped"):
                counts["done"] += 1
            elif status == "failed":
                counts["failed"] += 1
                failures.append((result["out"], result.get("error", "")))
            else:
                counts["busy"] += 1
                elsewhere.append(Path(result["out"]))
            bar.write(finished_line(result, root))
            bar.update(1)
            if counts["failed"] or counts["busy"]:
                bar.set_postfix(failed=counts["failed"], running_elsewhere=counts["busy"])
    finished_meanwhile = sum(run_state(folder) == DONE for folder in elsewhere)  # the other process may be done now
    counts["done"] += finished_meanwhile
    counts["busy"] -= finished_meanwhile
    elapsed = time.perf_counter() - started
    print(f"sweep {sweep.name} finished in {elapsed:.1f}s: {counts['done']} done, {counts['failed']} failed, "
          f"{counts['busy']} running elsewhere", flush=True)
    for folder, error in failures:
        first_line = error.strip().splitlines()[0] if error.strip() else "failed"
        log = f", log {folder}/{RUN_LOG}" if (Path(folder) / RUN_LOG).exists() else ""
        print(f"  FAILED {folder}: {first_line} (traceback in {folder}/{ERROR}{log})")
    if sweep.compare is not None:
        judged = run_comparisons(sweep, specs, root)
        print(f"comparisons: {judged['done']} judged, {judged['skipped']} already judged, {judged['waiting']} waiting for runs")
    return SweepResult(root, counts["done"], counts["failed"], counts["busy"])


def finished_line(result: dict[str, Any], root: Path) -> str:
    """One line per finished run: its id, what happened, its headline metric and its time."""
    folder = Path(result["out"])
    name = folder.relative_to(root) if folder.is_relative_to(root) else folder
    detail = "  ".join(f"{k} {v:.4f}" for k, v in (result.get("test") or {}).items())
    if result["status"] == "failed":
        detail = (result.get("error", "").strip().splitlines() or [""])[0][:100]
    return f"{result['status']:7s} {name}  {detail}  ({result['seconds']:.1f} s)".replace("    ", "  ")


def compare_sweep(path: str, overrides: list[str], out: str, force: bool = False) -> Path:
    """``python -m harness compare``: (re)judge a sweep's pairs from its stored outputs; returns the sweep folder."""
    sweep = load_sweep(path, overrides)
    if sweep.compare is None:
        raise ConfigError(f"{path}: no 'compare' section (judge and pairs of method labels)")
    specs = expand(sweep, out, source=path, check_data=False)
    root = sweep_root(sweep, out)
    judged = run_comparisons(sweep, specs, root, force=force)
    print(f"comparisons: {judged['done']} judged, {judged['skipped']} already judged, {judged['waiting']} waiting for runs")
    return root
