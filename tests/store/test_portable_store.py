"""A run store is a portable artifact: moved, copied or rsynced elsewhere it gives the same status, the same report
(bit for bit) and resumes its unfinished runs; several stores report as one; a store records its format and the
harness version that wrote it, an older format is read (and migrated by a sweep), a newer one refused."""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

import pytest
import yaml

from harness import __version__
from harness.cli import main
from harness.report.runs import load_runs
from harness.report.write import write_report
from harness.store.format import STORE_FORMAT

from conftest import tiny_run_config

QUICKSTART_STORE = Path(__file__).resolve().parents[1] / "assets" / "quickstart_store"  # written in format 1


def _sweep_file(tmp_path: Path, tiny_models, data_dir, **changes) -> Path:
    base = tiny_run_config(tiny_models, data_dir, tmp_path)
    task = base.pop("task")
    for key in ("method", "seed", "out"):
        base.pop(key)
    base["train"]["max_steps_per_iteration"] = 1
    sweep = {"name": "tiny", "base": base, "tasks": [task], "seeds": [0, 1],
             "methods": [{"name": "laser", "args": {"bandit": "exp3"}}, {"name": "random_rm"}], **changes}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _same_tree(left: Path, right: Path) -> list[str]:
    """The files that differ (or exist on one side only) between two folders, compared byte for byte."""
    differ: list[str] = []
    comparison = filecmp.dircmp(left, right)
    stack = [(comparison, "")]
    while stack:
        node, prefix = stack.pop()
        differ += [prefix + name for name in node.left_only + node.right_only]
        _, mismatch, errors = filecmp.cmpfiles(node.left, node.right, node.common_files, shallow=False)
        differ += [prefix + name for name in mismatch + errors]
        stack += [(child, f"{prefix}{name}/") for name, child in node.subdirs.items()]
    return sorted(differ)


def _store_files(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*"))
            if path.is_file() and path.name != "run.log" and ".cache" not in path.parts and "report" not in path.parts}


def test_a_moved_store_gives_the_same_status_and_report_and_resumes(tmp_path, tiny_models, data_dir, capsys):
    sweep = _sweep_file(tmp_path, tiny_models, data_dir)
    written = tmp_path / "cluster" / "results"
    assert main(["sweep", str(sweep), "--out", str(written), "--no-report"]) == 0
    original = written / "tiny"
    # partly finished: one run lost its result after a checkpoint (partial), one was never started (pending)
    (original / "gsm8k/laser/seed1/metrics.json").unlink()
    shutil.rmtree(original / "gsm8k/random_rm/seed1")
    for path, data in _store_files(original).items():  # nothing recorded names where the store was written
        assert str(written).encode() not in data, path  # (inputs, e.g. the sweep YAML and the models, may be named)
    _, status, _ = _cli(capsys, "status", original)
    assert "partial" in status and "pending" in status and "total: done 2, partial 1, pending 1" in status
    assert main(["report", str(original), "--out", str(tmp_path / "report-original")]) == 0

    kept = tmp_path / "laptop" / "kept" / "tiny"  # copied, the original still there
    shutil.copytree(original, kept)
    moved = tmp_path / "elsewhere" / "tiny"  # rsynced, then the original deleted
    shutil.copytree(original, moved)
    for copy, name in ((kept, "report-kept"), (moved, "report-moved")):
        if copy == moved:
            shutil.rmtree(written)
        assert _cli(capsys, "status", copy)[1] == status
        assert main(["report", str(copy), "--out", str(tmp_path / name)]) == 0
        assert _same_tree(tmp_path / "report-original", tmp_path / name) == []

    code, out, err = _cli(capsys, "sweep", sweep, "--out", moved.parent, "--no-report")
    assert code == 0 and err == "", err
    assert "4 runs, 2 already finished, 2 to run" in out and "migrated" not in out
    assert "total: done 4" in _cli(capsys, "status", moved)[1]
    assert "resuming after iteration" in (moved / "gsm8k/laser/seed1/run.log").read_text()
    assert not (written / "tiny").exists()  # nothing was written where the store used to be


def test_each_run_and_the_manifest_record_the_format_and_harness_version(tmp_path, tiny_models, data_dir):
    sweep = _sweep_file(tmp_path, tiny_models, data_dir, seeds=[0], methods=[{"name": "random_rm"}])
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "out"), "--no-report"]) == 0
    root = tmp_path / "out" / "tiny"
    manifest = json.loads((root / "sweep.json").read_text())
    stored = json.loads((root / "gsm8k/random_rm/seed0/config.json").read_text())
    for record in (manifest, stored):
        assert (record["store_format"], record["harness_version"]) == (STORE_FORMAT, __version__)
    assert all(set(run) == {"run_id", "task", "method", "method_name", "seed", "axes"} for run in manifest["runs"])
    assert stored["config"]["out"] == "." and stored["config"]["cache_dir"] == "../../../.cache"


def _as_format_1(root: Path, written_at: Path) -> None:
    """Rewrite a store as harness 0.1.0 wrote it at ``written_at``: absolute folders, no format, no version."""
    manifest = json.loads((root / "sweep.json").read_text())
    for key in ("store_format", "harness_version"):
        manifest.pop(key)
    for run in manifest["runs"]:
        run["out"] = str(written_at / run["run_id"])
        path = root / run["run_id"] / "config.json"
        if path.exists():
            stored = json.loads(path.read_text())
            for key in ("store_format", "harness_version"):
                stored.pop(key)
            stored["config"].update(out=run["out"], cache_dir=str(written_at / ".cache"))
            path.write_text(json.dumps(stored, indent=2))
    (root / "sweep.json").write_text(json.dumps(manifest, indent=2))


def test_an_older_format_store_is_read_moved_and_migrated_by_the_next_sweep(tmp_path, tiny_models, data_dir, capsys):
    sweep = _sweep_file(tmp_path, tiny_models, data_dir, seeds=[0])
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "new"), "--no-report"]) == 0
    root = tmp_path / "moved" / "tiny"
    shutil.copytree(tmp_path / "new" / "tiny", root)
    assert main(["report", str(root), "--out", str(tmp_path / "report-2")]) == 0
    _as_format_1(root, tmp_path / "gone" / "tiny")  # written elsewhere, by the old harness, then moved here
    status = _cli(capsys, "status", root)[1]
    assert "total: done 2" in status
    assert main(["report", str(root), "--out", str(tmp_path / "report-1")]) == 0  # read without writing
    assert "store_format" not in json.loads((root / "sweep.json").read_text())
    assert _same_tree(tmp_path / "report-1", tmp_path / "report-2") == []

    code, out, err = _cli(capsys, "sweep", sweep, "--out", root.parent, "--no-report")
    assert code == 0 and err == ""
    notices = [line for line in out.splitlines() if "migrated" in line]
    assert notices == [f"store {root}: migrated in place from format 1 (harness 0.1.0) to format {STORE_FORMAT} "
                       "(2 run config(s) rewritten with relative folders)"]
    assert "2 runs, 2 already finished, 0 to run" in out
    manifest = json.loads((root / "sweep.json").read_text())
    assert manifest["store_format"] == STORE_FORMAT and all("out" not in run for run in manifest["runs"])
    stored = json.loads((root / "gsm8k/laser/seed0/config.json").read_text())
    assert stored["store_format"] == STORE_FORMAT and stored["config"]["out"] == "."
    assert stored["config"]["cache_dir"] == "../../../.cache"  # the cache lay inside the store: now relative
    code, out, _ = _cli(capsys, "sweep", sweep, "--out", root.parent, "--no-report")
    assert code == 0 and "migrated" not in out  # once


def test_the_shipped_format_1_store_reads_and_the_manifest_folders_are_not_used(tmp_path):
    assert "store_format" not in json.loads((QUICKSTART_STORE / "sweep.json").read_text())
    frame = load_runs(QUICKSTART_STORE)
    assert frame["finished"].all() and len(frame) == len(json.loads((QUICKSTART_STORE / "sweep.json").read_text())["runs"])
    assert set(frame["folder"]) == {str(QUICKSTART_STORE / run_id) for run_id in frame["run_id"]}


@pytest.mark.parametrize("where", ["manifest", "run"])
def test_a_newer_format_is_refused_in_one_line(tmp_path, capsys, where):
    root = tmp_path / "store"
    shutil.copytree(QUICKSTART_STORE, root)
    path = root / ("sweep.json" if where == "manifest" else "synth_mix/laser/seed0/config.json")
    record = json.loads(path.read_text())
    record.update(store_format=STORE_FORMAT + 1, harness_version="9.0.0")
    path.write_text(json.dumps(record))
    expected = (f"error: {path}: written by harness 9.0.0 in store format {STORE_FORMAT + 1}; this harness ({__version__}) "
                f"reads formats up to {STORE_FORMAT}: upgrade it to read this store")
    commands = [["report", root, "--out", tmp_path / "report"]] + ([["status", root]] if where == "manifest" else [])
    for argv in commands:
        code, _, err = _cli(capsys, *argv)
        assert code == 2 and err.splitlines() == [expected]
    assert not (tmp_path / "report").exists()


def _split(store: Path, into: Path, seeds: set[int]) -> Path:
    """A copy of ``store`` holding (and listing) only the runs of ``seeds``: one array job's share."""
    shutil.copytree(store, into)
    manifest = json.loads((into / "sweep.json").read_text())
    for run in manifest["runs"]:
        if run["seed"] not in seeds:
            shutil.rmtree(into / run["run_id"])
    manifest["runs"] = [run for run in manifest["runs"] if run["seed"] in seeds]
    (into / "sweep.json").write_text(json.dumps(manifest))
    return into


def test_stores_merge_into_the_report_of_their_union(tmp_path, capsys):
    whole = tmp_path / "whole"
    write_report(QUICKSTART_STORE, whole)
    first = _split(QUICKSTART_STORE, tmp_path / "machine-a" / "quickstart", {0, 1, 2})
    second = _split(QUICKSTART_STORE, tmp_path / "machine-b" / "quickstart", {2, 3, 4})  # seed 2 in both, the same
    assert main(["report", str(first), str(second), "--out", str(tmp_path / "merged")]) == 0
    differ = _same_tree(whole, tmp_path / "merged")
    assert set(differ) == {"README.md", "index.html", ".harness-report"}, differ  # the title names two stores
    readme = (tmp_path / "merged" / "README.md").read_text()
    assert readme.startswith("# Report for quickstart (2 stores)\n\n75 of 75 runs finished.")
    assert readme.replace(" (2 stores)", "") == (whole / "README.md").read_text()


def test_a_run_in_two_stores_with_other_settings_or_results_is_refused_in_one_line(tmp_path, capsys):
    first = _split(QUICKSTART_STORE, tmp_path / "a" / "quickstart", {0, 1})
    second = _split(QUICKSTART_STORE, tmp_path / "b" / "quickstart", {1, 2})
    metrics = second / "synth_mix/laser/seed1/metrics.json"
    result = json.loads(metrics.read_text())
    result["train_seconds"] = 1e6  # a copy's wall-clock time is not its result
    metrics.write_text(json.dumps(result))
    assert main(["report", str(first), str(second), "--out", str(tmp_path / "r")]) == 0

    accuracy, result["test"]["accuracy"] = result["test"]["accuracy"], 0.5
    metrics.write_text(json.dumps(result))
    code, _, err = _cli(capsys, "report", first, second, "--out", tmp_path / "r2")
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error: run synth_mix/laser/seed1 is in two stores with different results (test.accuracy: ")
    assert f"{first / 'synth_mix/laser/seed1'} and {second / 'synth_mix/laser/seed1'}" in err

    result["test"]["accuracy"] = accuracy
    metrics.write_text(json.dumps(result))
    config = second / "synth_mix/random_rm/seed1/config.json"
    stored = json.loads(config.read_text())
    stored["config"]["train"]["beta"] = 0.3
    config.write_text(json.dumps(stored))
    code, _, err = _cli(capsys, "report", second, first, "--out", tmp_path / "r3")
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error: run synth_mix/random_rm/seed1 is in two stores with different settings "
                          "(train.beta: 0.3 -> 0.1): ")
    assert not (tmp_path / "r2").exists() and not (tmp_path / "r3").exists()


def test_runs_from_different_machines_are_flagged_when_stores_merge(tmp_path):
    first = _split(QUICKSTART_STORE, tmp_path / "a" / "quickstart", {0, 1, 2})
    second = _split(QUICKSTART_STORE, tmp_path / "b" / "quickstart", {3, 4})
    for path in second.rglob("config.json"):
        stored = json.loads(path.read_text())
        stored["environment"]["machine"]["cpu"] = "Another CPU"
        path.write_text(json.dumps(stored))
    write_report([first, second], tmp_path / "merged")
    readme = (tmp_path / "merged" / "README.md").read_text()
    assert "Measured on 2 different machines or software stacks" in readme
    moved = sum(1 for _ in second.rglob("config.json"))
    assert [line for line in readme.splitlines() if line.startswith("- Another CPU")][0].endswith(f": {moved} run(s)")
