"""A corpus of bad inputs (configs, data files, command-line arguments, run stores, cache locations): each must
end in exactly one line ``error: <file or key>: <problem>`` with exit status 2, before any expensive work,
and with nothing written (every file under the test's folder, the cache included, is unchanged).

``RANGE_CASES`` are generated from the declared ranges (``harness.config.ranges``): for every ranged setting of a
run, a sweep, and every method, bandit, combiner, RM kind, task, judge and setup hook, a value just outside each side
of its range, written in a run or sweep YAML, must give the one line naming its full key, the range and the value.

The commands run in-process through ``harness.cli.main``; the expensive steps (the world build, a run, a
profile measurement, the report's tables) are replaced by a tripwire, so a bad input that slips through
validation fails the test instead of starting work. The hub is treated as unreachable, so the offline
messages are checked on any machine.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal, Union, get_args, get_origin, get_type_hints

import pytest
import yaml

from harness.cli import main
from harness.commands.catalog import REGISTRIES
from harness.config.parse import apply_override, to_dict
from harness.config.ranges import RANGE, Range
from harness.config.schema import RunConfig, SweepConfig

QUICKSTART_STORE = Path(__file__).resolve().parents[1] / "assets" / "quickstart_store"

SWEEP = """name: fz
setup:
  world: {}
base:
  policy: {model: "world:policy"}
  reward_models:
    - {name: rm_count, kind: loglik, model: "world:rm_count"}
    - {name: rm_facts, kind: loglik, model: "world:rm_facts"}
  train: {iterations: 1, batch_size: 4, num_samples: 2, max_new_tokens: 8}
tasks:
  - {name: synth_mix, split_sizes: [20, 2, 10]}
methods:
  - {name: base}
  - {name: laser}
seeds: [0]
"""

RUN = """method: {name: laser}
task: {name: gsm8k, path: GSM8K, split_sizes: [8, 2, 4]}
seed: 0
policy: {model: POLICY}
reward_models:
  - {name: rm_a, kind: loglik, model: RM_A}
train: {iterations: 1, batch_size: 4, num_samples: 2, max_new_tokens: 8}
out: out/run
"""
GSM8K_TASK = "task: {name: gsm8k, path: GSM8K, split_sizes: [8, 2, 4]}"


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


def rows(count: int, **fields) -> str:
    return "".join(json.dumps({key: value(i) if callable(value) else value for key, value in fields.items()}) + "\n"
                   for i in range(count))


@dataclass
class Case:
    name: str
    argv: list[str]
    fragment: str                                   # must appear in the one error line
    files: dict[str, str | bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


def sweep_case(name: str, fragment: str, old: str = "", new: str = "", extra: list[str] = (), **files) -> Case:
    text = edit(SWEEP, old, new) if old else SWEEP
    return Case(name, ["sweep", "s.yaml", *extra], fragment, {"s.yaml": text, **files})


def run_case(name: str, fragment: str, old: str = "", new: str = "", extra: list[str] = (), **files) -> Case:
    text = edit(RUN, old, new) if old else RUN
    return Case(name, ["run", "r.yaml", *extra], fragment, {"r.yaml": text, **files})


def data_case(name: str, fragment: str, file: str, content: str | bytes, task: str = "gsm8k") -> Case:
    return run_case(name, fragment, GSM8K_TASK, f"task: {{name: {task}, path: {file}}}", **{file: content})


CASES = [
    # sweep configs
    sweep_case("yaml syntax", "s.yaml: invalid YAML at line 16", "seeds: [0]", "seeds: [0"),
    sweep_case("unknown top-level key", "unknown key 'metods'. Did you mean 'methods'", "methods:", "metods:"),
    sweep_case("unknown method", "method.name: unknown method 'lasr'. Did you mean 'laser'", "{name: laser}", "{name: lasr}"),
    sweep_case("unknown reward-model kind", "reward_models[0].kind: unknown reward-model kind 'logli'",
               'kind: loglik, model: "world:rm_count"', 'kind: logli, model: "world:rm_count"'),
    sweep_case("unknown task", "task.name: unknown task 'synth_mx'. Did you mean 'synth_mix'", "synth_mix", "synth_mx"),
    sweep_case("wrong type", "train.iterations: expected an integer, got 'two'", "iterations: 1", "iterations: two"),
    sweep_case("unknown tracker", "log[0]: unknown tracker 'tensorbord'. Did you mean 'tensorboard'",
               "  policy: {model: \"world:policy\"}", "  policy: {model: \"world:policy\"}\n  log: [tensorbord]"),
    run_case("router in best-of-n mode", "'prompt_router' routes each prompt to a reward model while training",
             "method: {name: laser}", "method: {name: prompt_router}\nmode: best_of_n"),
    sweep_case("out of range", "train.num_samples: preference pairs need at least 2", "num_samples: 2", "num_samples: 1"),
    sweep_case("negative seed", "s.yaml: seeds[0]: must be >= 0, got -1", "seeds: [0]", "seeds: [-1]"),
    sweep_case("duplicate seeds", "s.yaml: seeds: each value must be listed once", "seeds: [0]", "seeds: [0, 1, 0]"),
    sweep_case("duplicate tasks", "s.yaml: tasks: each value must be listed once",
               "  - {name: synth_mix, split_sizes: [20, 2, 10]}",
               "  - {name: synth_mix, split_sizes: [20, 2, 10]}\n  - {name: synth_mix}"),
    sweep_case("duplicate method labels", "methods: labels must be unique, repeated: laser",
               "  - {name: laser}", "  - {name: laser}\n  - {name: laser}"),
    sweep_case("zero steps per iteration", "train.max_steps_per_iteration: must be >= 1",
               "max_new_tokens: 8}", "max_new_tokens: 8, max_steps_per_iteration: 0}"),
    sweep_case("zero eval batch size (failed a run only when it evaluated)",
               "s.yaml [synth_mix/base/seed0]: eval.batch_size: must be >= 1, got 0", "max_new_tokens: 8}",
               "max_new_tokens: 8}\n  eval: {batch_size: 0}"),
    sweep_case("name ..", "s.yaml: name: expected a folder name", "name: fz", "name: '..'"),
    sweep_case("name empty", "s.yaml: name: expected a folder name", "name: fz", "name: ''"),
    sweep_case("name with a slash", "got 'a/b'", "name: fz", "name: a/b"),
    sweep_case("no tasks", "a sweep needs at least one task", "tasks:\n  - {name: synth_mix, split_sizes: [20, 2, 10]}",
               "tasks: []"),
    sweep_case("grid typo", "unknown key 'train.itrations'", "seeds: [0]", "seeds: [0]\ngrid: {train.itrations: [1, 2]}"),
    sweep_case("policy without a model", "policies[0].model: required, but missing", "seeds: [0]",
               "seeds: [0]\npolicies: [{name: p}]"),
    sweep_case("setup.world unknown setting", "unknown key 'setup.world.rm_stps'", "world: {}", "world: {rm_stps: 3}"),
    sweep_case("setup.world not a mapping", "s.yaml: setup.world: expected a mapping of settings, got int",
               "world: {}", "world: 3"),
    sweep_case("setup.world setting no run would use", "s.yaml: setup.world.hidden_size: a run's world comes from its config's world: section",
               "world: {}", "world: {hidden_size: 32}"),
    sweep_case("unknown setup hook", "unknown setup hook 'wrld'. Did you mean 'world'", "world: {}", "wrld: {}"),
    sweep_case("report target not a method of the sweep", "s.yaml: report.target: unknown method label 'lasr'. Did you mean 'laser'",
               "seeds: [0]", "seeds: [0]\nreport: {target: lasr}"),
    Case("config file missing", ["sweep", "nope.yaml"], "nope.yaml: config file not found"),
    Case("config is a folder", ["sweep", "folder"], "folder: expected a YAML config file, found a folder", {"folder/x": ""}),
    Case("config not UTF-8", ["sweep", "s.yaml"], "s.yaml:16: expected UTF-8 text, found byte 0xff",
         {"s.yaml": SWEEP.encode() + b"# \xff\n"}),
    Case("config is a list", ["sweep", "s.yaml"], "s.yaml: expected a mapping at the top level, got list", {"s.yaml": "- a\n"}),
    Case("config empty", ["sweep", "s.yaml"], "s.yaml: name: required, but missing", {"s.yaml": ""}),
    Case("compare without a compare section", ["compare", "s.yaml"], "s.yaml: no 'compare' section", {"s.yaml": SWEEP}),
    # overrides
    sweep_case("override value not YAML", "override 'seeds=[0,1': the value is not valid YAML", extra=["seeds=[0,1"]),
    sweep_case("override unknown key", "unknown key 'trian'. Did you mean 'train'", extra=["base.trian.iterations=2"]),
    sweep_case("override without =", "override 'seeds': expected key=value", extra=["seeds"]),
    sweep_case("override negative seed", "s.yaml: seeds[0]: must be >= 0, got -3", extra=["seeds=[-3]"]),
    run_case("run override value not YAML", "override 'train.iterations=[1'", extra=["train.iterations=[1"]),
    # run configs: names, values, models, folders
    run_case("run negative seed", "r.yaml: seed: must be >= 0, got -2", "seed: 0", "seed: -2"),
    run_case("run best_rm unknown", "best_rm: unknown reward model 'rm_z'. Did you mean 'rm_a'", "seed: 0",
             "seed: 0\nbest_rm: rm_z"),
    run_case("run method argument typo", "unknown key 'method.args.alpah'. Did you mean 'alpha'",
             "method: {name: laser}", "method: {name: laser, args: {alpah: 1}}"),
    run_case("unknown reward combiner", "method.args.combine: unknown reward combiner 'mni'. Did you mean 'min'",
             "method: {name: laser}", "method: {name: offline_ensemble, args: {combine: mni}}"),
    run_case("plug-in method that does not import", "method.name: method 'not_my_methods:EpsilonGreedy': cannot "
             "import module 'not_my_methods'", "method: {name: laser}", "method: {name: 'not_my_methods:EpsilonGreedy'}"),
    run_case("unknown bandit", "method.args.bandit: unknown bandit 'lintz'. Did you mean 'lints'",
             "method: {name: laser}", "method: {name: laser, args: {bandit: lintz}}"),
    run_case("run split sizes", "task.split_sizes: expected three sizes", "split_sizes: [8, 2, 4]", "split_sizes: [8, 2]"),
    run_case("run split sizes too large", "need 20000 examples", "split_sizes: [8, 2, 4]", "split_sizes: [20000, 0, 0]"),
    run_case("policy folder missing", "r.yaml: policy.model: './nope': no such file or folder", "model: POLICY", "model: ./nope"),
    run_case("reward model folder missing", "reward_models[0].model: '/nope/rm': no such file or folder",
             "model: RM_A", "model: /nope/rm"),
    run_case("hub model offline", "policy.model: 'nobody/nomodel' is not a local file or folder, not in the local "
             "Hugging Face cache, and the hub is unreachable", "model: POLICY", "model: nobody/nomodel"),
    run_case("gguf package missing", "Python package 'no_such_gguf_package' is not installed", "model: POLICY",
             "model: 'pkg:no_such_gguf_package/model.gguf'"),
    run_case("run out is a file", "r.yaml: out:", "out: out/run", "out: afile", afile="x"),
    run_case("cache_dir is a file", "r.yaml: cache_dir:", "out: out/run", "out: out/run\ncache_dir: afile", afile="x"),
    # data files
    run_case("data file missing", "r.yaml: task: nope.jsonl: data file or folder not found", "path: GSM8K", "path: nope.jsonl"),
    data_case("JSONL not UTF-8", "d.jsonl:2: expected UTF-8 text, found byte 0xff", "d.jsonl",
              b'{"question": "a", "answer": "#### 1"}\n{"question": "\xff", "answer": "#### 1"}\n'),
    data_case("JSONL malformed line", "d.jsonl:2: invalid JSON", "d.jsonl", '{"question": "a", "answer": "#### 1"}\n{oops\n'),
    data_case("JSONL line not an object", "d.jsonl:1: expected a JSON object, got list", "d.jsonl", "[1, 2]\n"),
    data_case("JSON truncated", "d.json:1: invalid JSON", "d.json", '[{"question": "a", "answer": "#### 1"}, {"quest'),
    data_case("JSON not an array", "d.json: expected a JSON array of records, got dict", "d.json", '{"question": "a"}'),
    data_case("Parquet garbage", "d.parquet: expected a Parquet file, could not read it", "d.parquet", b"PAR1garbage"),
    data_case("answer of the wrong type", "d.jsonl:1: not a gsm8k record", "d.jsonl",
              rows(20, question=lambda i: f"q{i}", answer=lambda i: [i])),
    data_case("answer missing", "d.jsonl:1: not a gsm8k record (KeyError: 'answer')", "d.jsonl",
              rows(20, question=lambda i: f"q{i}")),
    data_case("unsupported data suffix", "d.txt: expected a .jsonl/.json/.parquet file, found .txt", "d.txt", "x"),
    run_case("data folder without data files", "folder holds no .jsonl/.json/.parquet files", "path: GSM8K",
             "path: data", **{"data/notes.md": "x"}),
    run_case("hub dataset offline", "r.yaml: task: cannot load hub dataset 'ChilleD/StrategyQA' (the hub is unreachable "
             "and the dataset is not in the local Hugging Face cache); set task.path", GSM8K_TASK, "task: {name: strategyqa}"),
    # command-line arguments
    sweep_case("--workers negative", "--workers: expected a positive number, got -3", extra=["--workers", "-3"]),
    sweep_case("--workers zero", "--workers: expected a positive number, got 0", extra=["--workers", "0"]),
    sweep_case("--workers not a number", "--workers: invalid int value: 'two'", extra=["--workers", "two"]),
    sweep_case("--worker (a prefix of --workers)", "unrecognized arguments: --worker 2", extra=["--worker", "2"]),
    sweep_case("unknown flag", "unrecognized arguments: --fast", extra=["--fast"]),
    sweep_case("unknown executor", "--executor: unknown executor 'slurmm'. Did you mean 'slurm'",
               extra=["--executor", "slurmm"]),
    sweep_case("flag of another executor", "--ray-address: does not apply to --executor local",
               extra=["--ray-address", "auto"]),
    Case("unknown command", ["swep", "s.yaml"], "command: unknown command 'swep'. Did you mean 'sweep'"),
    Case("no command", [], "the following arguments are required: command"),
    Case("profile --max-prompts 0", ["profile", "s.yaml", "--max-prompts", "0"], "--max-prompts: expected an integer >= 1",
         {"s.yaml": SWEEP}),
    Case("profile --out is a file", ["profile", "s.yaml", "--out", "afile"], "--out:", {"s.yaml": SWEEP, "afile": "x"}),
    sweep_case("--out is a file", "out: ", extra=["--out", "afile"], afile="x"),
    sweep_case("--out not writable", "cannot write in /proc", extra=["--out", "/proc/harness-results"]),
    # run stores
    Case("report on a missing store", ["report", "nostore", "--out", "rep"], "nostore: run store not found"),
    Case("report on an empty folder", ["report", "empty", "--out", "rep"], "empty: no runs found", {"empty/.keep": ""}),
    Case("report on a truncated manifest", ["report", "st", "--out", "rep"], "st/sweep.json: unreadable sweep manifest",
         {"st/sweep.json": '{"name": "x", "runs": ['}),
    Case("report on a manifest without runs", ["report", "st", "--out", "rep"], "expected a 'runs' list",
         {"st/sweep.json": '{"name": "x"}'}),
    Case("report --out is a file", ["report", str(QUICKSTART_STORE), "--out", "afile"], "--out: ", {"afile": "x"}),
    Case("report without a store", ["report", "--out", "rep"], "report: give a sweep folder"),
    Case("report --target not a method of the store", ["report", str(QUICKSTART_STORE), "--out", "rep", "--target", "lasr"],
         "--target: unknown method label 'lasr'. Did you mean 'laser'"),
    Case("report --target with --paper-only", ["report", "--paper-only", "--out", "rep", "--target", "laser"],
         "--paper-only has none"),
    Case("paper report --out is a file", ["report", "--paper-only", "--out", "afile"], "--out: ", {"afile": "x"}),
    Case("status on a missing store", ["status", "nostore"], "nostore/sweep.json: not found"),
    Case("status on a truncated manifest", ["status", "st"], "st/sweep.json: unreadable sweep manifest",
         {"st/sweep.json": '{"runs": [{"out": '}),
    Case("status on a manifest listing no runs", ["status", "st"], "the sweep lists no runs", {"st/sweep.json": '{"runs": []}'}),
    sweep_case("resume onto a truncated manifest", "o/fz/sweep.json: unreadable sweep manifest", extra=["--out", "o"],
               **{"o/fz/sweep.json": '{"runs": ['}),
    sweep_case("run folder holding other settings", "already exists with other settings", extra=["--out", "o"],
               **{"o/fz/synth_mix/base/seed0/config.json": json.dumps({"config": {"seed": 7}})}),
    # cache locations
    Case("$HARNESS_CACHE is a file", ["sweep", "s.yaml"], "$HARNESS_CACHE: ", {"s.yaml": SWEEP, "cachefile": "x"},
         env={"HARNESS_CACHE": "cachefile"}),
    Case("$HARNESS_CACHE not writable", ["sweep", "s.yaml"], "$HARNESS_CACHE: cannot write in /proc", {"s.yaml": SWEEP},
         env={"HARNESS_CACHE": "/proc/harness-cache"}),
]




# ----- every declared range, from a YAML: generated from the declarations (``harness.config.ranges``) -----------------
def _held(hint: Any) -> tuple[str, Any] | None:
    """How a field holds a nested dataclass: ('', X) for X or X | None, ('list', X) for list[X], ('dict', X) for
    dict[str, X]; None when it holds none."""
    if get_origin(hint) in (Union, types.UnionType):
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    args = get_args(hint)
    if dataclasses.is_dataclass(hint):
        return "", hint
    if get_origin(hint) is list and dataclasses.is_dataclass(args[0]):
        return "list", args[0]
    if get_origin(hint) is dict and dataclasses.is_dataclass(args[1]):
        return "dict", args[1]
    return None


def ranged_settings(cls: type, data: Any) -> Iterator[tuple[str, Range, Any]]:
    """(dotted key, range, type) of every ranged field of dataclass ``cls`` and of the dataclasses in it, as written in
    ``data`` (its YAML mapping): a nested section whether written or not, a list's or mapping's first entry written."""
    data = data if isinstance(data, dict) else {}
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if RANGE in f.metadata:
            yield f.name, f.metadata[RANGE], hints[f.name]
        held, value = _held(hints[f.name]), data.get(f.name)
        if held is None or (held[0] and not value):
            continue
        how, inner = held
        if how == "list":
            suffix, value = ".0", value[0]
        elif how == "dict":
            suffix, value = f".{next(iter(value))}", next(iter(value.values()))
        else:
            suffix = ""
        for key, allowed, hint in ranged_settings(inner, value):
            yield f"{f.name}{suffix}.{key}", allowed, hint


def _bad_values(allowed: Range) -> list[float]:
    """A value just outside each bounded side of the range."""
    values = []
    if allowed.low is not None:
        values.append(allowed.low if allowed.low_open else allowed.low - 1)
    if allowed.high is not None:
        values.append(allowed.high if allowed.high_open else allowed.high + 1)
    return values


def _required(cls: type) -> dict[str, Any]:
    """A value for each setting of ``cls`` that has no default (a model name, the first of a Literal's values)."""
    hints = get_type_hints(cls)
    return {f.name: get_args(hints[f.name])[0] if get_origin(hints[f.name]) is Literal else "x"
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}


def _written(hint: Any, bad: float) -> tuple[Any, str, str]:
    """(the YAML value carrying ``bad``, the key suffix the error names, ``bad`` as the error writes it)."""
    if get_origin(hint) in (Union, types.UnionType):
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    number = get_args(hint)[-1] if get_origin(hint) in (list, dict) else hint
    text = str(float(bad) if number is float else int(bad))
    if get_origin(hint) is list:
        return [bad], "[0]", text
    if get_origin(hint) is dict:
        return {"x": bad}, ".x", text
    return bad, "", text


def _at(data: Any, key: str) -> Any:
    """The value at dotted ``key`` of nested YAML data ({} where nothing is written)."""
    for part in filter(None, key.split(".")):
        data = data[int(part)] if isinstance(data, list) else (data or {}).get(part, {})
    return data


def _range_cases(kind: str, template: str, cls: type, settings: str = "", section: tuple[str, Any] = ("", None),
                 error_prefix: str | None = None, entry: str = "") -> list[Case]:
    """A case per bad value of each ranged setting of ``cls``, whose settings sit at ``settings`` of the YAML
    ``template`` after ``section`` (key, value) is written (``entry``: the registry entry they belong to); the one
    error line must name the key (after ``error_prefix``, by default the settings' own key), the range and the value."""
    base = yaml.safe_load(template)
    if section[0]:
        apply_override(base, section[0], copy.deepcopy(section[1]))
    error_prefix = f"{settings}." if error_prefix is None and settings else error_prefix or ""
    cases = []
    for key, allowed, hint in ranged_settings(cls, _at(base, settings)):
        for bad in _bad_values(allowed):
            data = copy.deepcopy(base)
            value, suffix, text = _written(hint, bad)
            written = ".".join(part for part in (settings, key) if part)
            apply_override(data, written, value)
            null = " or null" if not suffix and type(None) in get_args(hint) else ""
            note = f" ({allowed.note})" if allowed.note else ""
            named = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", f"{error_prefix}{key}{suffix}")
            file = "r.yaml" if kind == "run" else "s.yaml"
            cases.append(Case(f"range {entry + ': ' if entry else ''}{written}{suffix} = {text}", [kind, file],
                              f"{file}: {named}: must be {allowed}{null}{note}, got {text}",
                              {file: yaml.safe_dump(data, sort_keys=False)}))
    return cases


def _registry_cases(registry: str, kind: str, template: str, settings: str, section: Any, error_prefix: str | None = None
                    ) -> list[Case]:
    """The range cases of every entry of a registry: ``section(name, Config)`` is the (key, value) that names the entry
    and holds its settings at ``settings``."""
    entries = REGISTRIES[registry]
    return [case for name in entries.names()
            for case in _range_cases(kind, template, entries.config_class(name), settings.format(name=name),
                                     section(name, entries.config_class(name)), error_prefix, f"{entries.kind} {name}")]


RUN_RM = yaml.safe_load(RUN)["reward_models"][0]
RANGE_CASES = [
    *_range_cases("run", RUN, RunConfig),
    *_range_cases("sweep", SWEEP, SweepConfig),
    *_registry_cases("methods", "run", RUN, "method.args", lambda name, _: ("method", {"name": name, "args": {}})),
    *_registry_cases("bandits (laser's bandit)", "run", RUN, "method.args",
                     lambda name, _: ("method", {"name": "laser", "args": {"bandit": name}})),
    *_registry_cases("reward combiners", "run", RUN, "method.args.combine_args",
                     lambda name, _: ("method", {"name": "offline_ensemble", "args": {"combine": name, "combine_args": {}}})),
    *_registry_cases("reward-model kinds", "run", RUN, "reward_models.1",
                     lambda name, config: ("reward_models", [RUN_RM, {"name": "rm_x", "kind": name, **_required(config)}])),
    *_registry_cases("tasks", "run", RUN, "task.options", lambda name, _: ("task", {"name": name, "options": {}}),
                     error_prefix="task: task.options."),
    *_registry_cases("judges (compare)", "sweep", SWEEP, "compare.judge",
                     lambda name, config: ("compare", {"judge": {"kind": name, **_required(config)}, "pairs": [["laser", "base"]]})),
    *_registry_cases("setup hooks (sweep setup:)", "sweep", SWEEP, "setup.{name}",
                     lambda name, config: ("setup", {name: to_dict(config())})),
]


class ReachedExpensiveWork(BaseException):
    """Raised by the tripwires: validation let a bad input through to real work."""


def _tripwire(*args, **kwargs):
    raise ReachedExpensiveWork("a bad input got past validation to expensive work")


def _snapshot(root: Path) -> dict[str, tuple[int, int] | None]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else None
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="session")
def empty_hub_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("empty_hub_cache")


@pytest.fixture
def isolated(tmp_path, empty_hub_cache, monkeypatch):
    """The test's own folder as cwd and cache; hub unreachable; the expensive steps replaced by tripwires."""
    import datasets.config
    import huggingface_hub.constants

    import harness.commands.profile
    import harness.commands.run
    import harness.common.hub
    import harness.report.write
    import harness.world.build

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(harness.common.hub, "hub_reachable", lambda: False)
    # what a user has cached must not answer the test
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(empty_hub_cache))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", empty_hub_cache)
    for module, name in ((harness.world.build.WorldSetup, "run"), (harness.commands.run, "execute_run"),
                         (harness.commands.profile, "ensure_profile"), (harness.report.write, "_write_report")):
        monkeypatch.setattr(module, name, _tripwire)
    return tmp_path


def _fill(text: str | bytes, substitutions: dict[str, str]) -> str | bytes:
    if isinstance(text, bytes):
        return text
    for key, value in substitutions.items():
        text = text.replace(key, value)
    return text


def write_inputs(case: Case, folder: Path, substitutions: dict[str, str]) -> None:
    for relative, content in case.files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        content = _fill(content, substitutions)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)


@pytest.mark.parametrize("case", CASES + RANGE_CASES, ids=lambda case: case.name)
def test_bad_input_gets_one_error_line_and_writes_nothing(case: Case, isolated, tiny_models, data_dir, capsys, monkeypatch):
    write_inputs(case, isolated, {"GSM8K": str(data_dir / "gsm8k" / "test.jsonl"), "POLICY": tiny_models["policy"],
                                  "RM_A": tiny_models["rm_a"]})
    before = _snapshot(isolated)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    try:
        code = main(case.argv)
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, (code, captured.out, captured.err)
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert case.fragment in lines[0], lines[0]
    assert "Traceback" not in captured.out
    assert _snapshot(isolated) == before, "a bad input left files behind or changed some"


def test_every_declared_range_has_a_case_from_a_yaml():
    """The generated cases reach each section: a new ranged setting anywhere in them gets its case without a new line."""
    named = {case.fragment.split(": must be")[0].split(": ", 1)[1] for case in RANGE_CASES}
    for key in ("eval.batch_size", "eval.lm_eval.batch_size", "profile.batch_size", "train.top_p", "memory.generation_rows",
                "seeds[0]", "compare.max_examples", "tasks[0].split_seed", "method.args.alpha", "method.args.prior_weight",
                "method.args.combine_args.weight", "reward_models[1].sigma", "task: task.options.classifier.batch_size",
                "compare.judge.batch_size", "setup.world.models.policy.steps"):
        assert key in named, key
    assert len(RANGE_CASES) > 100


def test_the_corpus_is_large_and_covers_every_kind_of_input():
    commands = {case.argv[0] if case.argv else "" for case in CASES}
    assert len(CASES) >= 40 and {"sweep", "run", "report", "status", "profile", "compare"} <= commands
    assert len({case.name for case in CASES}) == len(CASES)
