"""``python -m harness profile CONFIG.yaml``: each RM's competence on the policy's own samples (AUC, pairwise
accuracy), per prompt category, written with its tables."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from harness.commands.base import Command, add_config_arguments
from harness.common.files import unwritable_folder, write_json_atomic
from harness.config.errors import ConfigError
from harness.config.parse import read_yaml
from harness.config.ranges import range_of
from harness.config.schema import ProfileConfig, RunConfig
from harness.loop.run_config import load_run_config
from harness.models.quiet import quiet_libraries
from harness.profile.build import ensure_profile
from harness.report.profiles import profile_tables
from harness.report.tables import to_markdown
from harness.report.write import write_table
from harness.store.layout import PROFILE, safe_name
from harness.sweep.expand import expand, is_sweep_yaml, load_sweep


def profile_configs(path: str, overrides: list[str]) -> list[tuple[str, RunConfig]]:
    """(label, run config) of each distinct (task, policy) of a sweep YAML (its first seed), or the one run of a
    run YAML; a config without a ``profile:`` section gets the default profile settings."""
    if is_sweep_yaml(read_yaml(path)):
        sweep = load_sweep(path, overrides)
        specs = expand(sweep, "/tmp/harness-profile", source=path)
        chosen: dict[str, RunConfig] = {}
        for spec in specs:
            label = safe_name(spec.task + (f"@{spec.axes['policy']}" if "policy" in spec.axes else ""))
            chosen.setdefault(label, spec.config)
        configs = list(chosen.items())
    else:
        config = load_run_config(path, overrides)
        configs = [(safe_name(config.task.name), config)]
    return [(label, dataclasses.replace(config, profile=config.profile or ProfileConfig())) for label, config in configs]


class Profile(Command):
    description = "each RM's competence on the policy's own samples (AUC, pairwise accuracy)"

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        add_config_arguments(parser, "a run or sweep YAML")
        parser.add_argument("--out", default="profiles", help="folder for profile.json and its tables (default: profiles/)")
        parser.add_argument("--max-prompts", type=int, default=None, help="training prompts per category")
        parser.add_argument("--num-samples", type=int, default=None, help="samples per prompt")

    @staticmethod
    def main(args: argparse.Namespace) -> int:
        """``python -m harness profile CONFIG.yaml``: each RM's competence on the policy's own samples, per category."""
        for flag, key in (("--max-prompts", "max_prompts"), ("--num-samples", "num_samples")):
            value, allowed = getattr(args, key), range_of(ProfileConfig, key)  # the flags set these profile settings
            if value is not None and value not in allowed:
                raise ConfigError(f"{flag}: expected an integer {allowed}, got {value}")
        problem = unwritable_folder(args.out)
        if problem:
            raise ConfigError(f"--out: {problem}")
        configs = profile_configs(args.config, args.overrides)  # every config checked before the first measurement
        quiet_libraries()
        for label, config in configs:
            settings = dataclasses.replace(config.profile, **{k: v for k, v in (("max_prompts", args.max_prompts),
                                                                                ("num_samples", args.num_samples)) if v})
            config = dataclasses.replace(config, profile=settings)
            measured = ensure_profile(config, progress=True)
            folder = Path(args.out) / label
            write_json_atomic(folder / PROFILE, measured)
            tables = profile_tables(measured)
            for table in tables:
                write_table(table, folder)
            print(to_markdown(tables[0]))
            print(f"{label}: profile in {folder} ({measured['seconds']} s to measure; key {measured['key'][:12]})")
        return 0
