"""``python -m harness sweep CONFIG --dry-run``: what a sweep would do, found without building or running anything:
every run with its state in the store, and the synthetic worlds the runs need (built here already, or to build)."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields
from typing import Any

from harness.config.schema import WorldSettings
from harness.store.layout import DONE
from harness.store.run_folder import run_state
from harness.sweep.expand import expand, load_sweep, sweep_root
from harness.sweep.run_sweep import check_store, setup_hooks
from harness.world.build import is_built, uses_world
from harness.world.problems import world_config


def settings_text(settings: WorldSettings) -> str:
    """``policy_correct_share=0.1, seed=2`` (the knobs set), or ``default``."""
    changed = [f"{f.name}={getattr(settings, f.name)}" for f in fields(WorldSettings) if getattr(settings, f.name) is not None]
    return ", ".join(changed) or "default"


def dry_run(path: str, overrides: list[str], out: str) -> list[str]:
    """The lines of the sweep's plan: its runs (id, state, world) and the worlds they need."""
    sweep = load_sweep(path, overrides)
    setup_hooks(sweep.setup, path)  # the same checks as a real sweep, so a dry run fails where it would
    specs = expand(sweep, out, source=path)
    check_store(specs)
    root = sweep_root(sweep, out)
    worlds: dict[str, dict[str, Any]] = {}
    run_lines, states = [], Counter()
    for spec in specs:
        state = run_state(spec.folder)
        states[state] += 1
        world = ""
        if uses_world(spec.config):
            config = world_config(spec.config.world)
            digest = config.digest()
            entry = worlds.setdefault(digest, {"settings": spec.config.world, "runs": 0, "built": is_built(config)})
            entry["runs"] += 1
            world = f"  world {digest}"
        run_lines.append(f"  {spec.run_id}  {state}{world}")
    finished = states.get(DONE, 0)
    lines = [f"sweep {sweep.name}: {len(specs)} runs ({finished} finished, {len(specs) - finished} to run) -> {root}", *run_lines]
    if worlds:
        to_build = sum(not w["built"] for w in worlds.values())
        lines.append(f"worlds: {len(worlds)} ({len(worlds) - to_build} built on this machine, {to_build} to build)")
        lines += [f"  {digest}  {settings_text(w['settings'])}  {w['runs']} runs  {'built' if w['built'] else 'to build'}"
                  for digest, w in worlds.items()]
    lines.append("nothing was built or run (--dry-run)")
    return lines
