"""Paper Table 3 (examples per split and category): the counts of the splits a run trains and tests on, on the
synthetic world's tasks and on the real data; the table beside the paper's numbers; ``python -m harness
data-stats`` on shipped configs; the same table from a run store's metrics.json data blocks."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli import main
from harness.config.schema import TaskConfig
from harness.report.data_stats import table3
from harness.report.paper import paper_data
from harness.report.tables import to_latex, to_markdown
from harness.report.write import write_report
from harness.tasks.registry import get_task
from harness.tasks.split_counts import split_counts

from conftest import OPEN_TASK_DATA, TASK_DATA, stored_config

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
SPLITS = ("train", "dev", "test")


def _counted(name: str, seed: int = 0, **task) -> tuple[dict, object]:
    config = TaskConfig(name=name, **task)
    instance = get_task(name, config.options)
    splits = instance.splits(config, seed)
    return split_counts(instance, config, splits), splits


def _check_counts(block: dict, splits) -> None:
    assert [block[s] for s in SPLITS] == [len(getattr(splits, s)) for s in SPLITS]
    if block["categories"]:
        for split in SPLITS:  # every example of these tasks has a category
            assert sum(c[split] for c in block["categories"].values()) == block[split], split
            members = [e.category for e in getattr(splits, split)]
            counted = {c: v[split] for c, v in block["categories"].items() if v[split]}
            assert {c: members.count(c) for c in set(members)} == counted


def _rows(markdown: str) -> dict[str, list[str]]:
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in markdown.splitlines() if line.startswith("| ")]
    return {row[0]: row[1:] for row in cells[1:]}


def test_world_tasks_count_what_their_splits_hold():
    block, splits = _counted("synth_count")
    _check_counts(block, splits)
    assert [block[s] for s in SPLITS] == [300, 100, 300] and not block["per_category"]  # the world's default sizes
    assert block["categories"] == {"count": {"train": 300, "dev": 100, "test": 300}}
    mixed, splits = _counted("synth_mix", seed=3, split_sizes=[10, 2, 5])
    _check_counts(mixed, splits)
    assert mixed["per_category"] and [mixed[s] for s in SPLITS] == [30, 6, 15]  # split within each of 3 families
    assert mixed["categories"] == {f: {"train": 10, "dev": 2, "test": 5} for f in ("choice", "count", "facts")}


def test_transcribed_table3_totals_are_the_sums_of_the_splits():
    spec = paper_data()["table3"]
    assert spec["columns"] == ["Train", "Dev", "Test", "Total"] and len(spec["rows"]) == 12
    for row, (train, dev, test, total) in spec["rows"].items():
        assert train + dev + test == total, row


def test_table3_puts_the_papers_numbers_beside_the_measured_ones():
    counts = {
        "gsm8k": {"train": 70, "dev": 10, "test": 20, "per_category": False, "categories": {}},
        "wildchat": {"train": 7, "dev": 1, "test": 2, "per_category": True, "categories": {
            "math_reasoning": {"train": 3, "dev": 0, "test": 1}, "creative_writing": {"train": 4, "dev": 1, "test": 1}}},
        "synth_count": {"train": 3, "dev": 1, "test": 3, "per_category": False,
                        "categories": {"count": {"train": 3, "dev": 1, "test": 3}}},
        "ood:commonsenseqa": {"train": 0, "dev": 0, "test": 5, "per_category": False, "categories": {}},
    }
    table = table3(counts)
    rows = _rows(to_markdown(table))
    assert list(rows) == ["GSM8K", "WildChat", "WildChat / Creative", "WildChat / Math", "synth_count", "CSQA (OOD)"]
    assert rows["GSM8K"] == ["70", "10", "20", "100", "6750", "750", "1000", "8500"]
    assert rows["WildChat / Creative"] == ["4", "1", "1", "6", "3500", "500", "1000", "5000"]
    assert rows["WildChat"] == ["7", "1", "2", "10", "--", "--", "--", "--"]  # the paper has no WildChat total
    assert rows["synth_count"][4:] == ["--"] * 4 and "Dataset / category" in to_markdown(table)
    tex = to_latex(table)
    assert "\\multicolumn{4}{c}{Measured}" in tex and "\\multicolumn{4}{c}{Paper}" in tex
    assert "GSM8K & 70 & 10 & 20 & 100 & 6750 & 750 & 1000 & 8500 \\\\" in tex and "\\textbf" not in tex
    alone = _rows(to_markdown(table3(counts, with_paper=False)))
    assert alone["GSM8K"] == ["70", "10", "20", "100"]


def test_real_data_counts_equal_the_splits(data_dir):
    for name in ("strategyqa", "gsm8k", "mmlu"):
        block, splits = _counted(name, path=str(data_dir / TASK_DATA[name]), max_examples=500)
        _check_counts(block, splits)
        assert [block[s] for s in SPLITS] == [350, 50, 100] and not block["per_category"], name
    long, splits = _counted("longbench", path=str(data_dir / OPEN_TASK_DATA["longbench"]), options={"per_category": 5000})
    _check_counts(long, splits)
    assert long["per_category"] and sum(long[s] for s in SPLITS) == 119  # MiniLongBench: far below 5,000 a category
    assert {c: sum(v.values()) for c, v in long["categories"].items()} == {
        "single_doc_qa": 22, "multi_doc_qa": 33, "summarization": 29, "few_shot": 35}


def test_cli_counts_small_yaml_beside_the_paper(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_DATA", str(data_dir))
    assert main(["data-stats", str(EXPERIMENTS / "small.yaml"), "--out", str(tmp_path / "stats")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed if " train / " in line] == ["strategyqa", "gsm8k", "mmlu"]
    rows = _rows((tmp_path / "stats" / "table3.md").read_text())
    assert rows["StrategyQA"] == ["210", "30", "60", "300", "1946", "278", "556", "2780"]  # max_examples 300, 70/10/20
    assert rows["MMLU"] == ["210", "30", "60", "300", "11135", "1591", "3182", "15908"]
    assert "11135" in (tmp_path / "stats" / "table3.tex").read_text()
    stored = json.loads((tmp_path / "stats" / "data_stats.json").read_text())
    block, splits = _counted("gsm8k", path=str(data_dir / TASK_DATA["gsm8k"]), max_examples=300)
    assert stored["tasks"]["gsm8k"] == block and stored["seeds"] == [0]


def test_cli_on_a_world_config_at_another_seed(tmp_path, capsys):
    assert main(["data-stats", str(EXPERIMENTS / "small_world.yaml"), "--seed", "2", "--out", str(tmp_path)]) == 0
    stored = json.loads((tmp_path / "data_stats.json").read_text())
    block, splits = _counted("synth_mix", seed=2, split_sizes=[36, 3, 20])
    assert stored["tasks"] == {"synth_mix": block} and stored["seeds"] == [2]
    rows = _rows((tmp_path / "table3.md").read_text())
    assert rows["synth_mix"] == ["108", "9", "60", "177"] and rows["synth_mix / count"] == ["36", "3", "20", "59"]
    assert "synth_mix: 108 train / 9 dev / 60 test" in capsys.readouterr().out


def test_cli_names_the_key_of_a_missing_data_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARNESS_DATA", str(tmp_path / "nowhere"))
    assert main(["data-stats", str(EXPERIMENTS / "small.yaml"), "--out", str(tmp_path / "stats")]) == 2
    error = capsys.readouterr().err
    assert "small.yaml [strategyqa/" in error and "]: task: " in error and "data file or folder not found" in error
    assert not (tmp_path / "stats" / "table3.md").exists()


def _stored_run(root: Path, runs: list, task: str, seed: int, data: dict, ood: dict | None = None) -> None:
    run_id = f"{task}/laser/seed{seed}"
    folder = root / run_id
    folder.mkdir(parents=True)
    config = {"method": {"name": "laser", "args": {}}, "policy": {"model": "tiny"}, "train": {"loss": "dpo_nll"},
              "task": {"name": task}, "seed": seed}
    (folder / "config.json").write_text(json.dumps(stored_config(config)))
    (folder / "metrics.json").write_text(json.dumps({"schema_version": 3, "test": {"accuracy": 0.5}, "selection_counts": {},
                                                     "data": data, "ood": ood or {}}))
    runs.append({"run_id": run_id, "task": task, "method": "laser", "method_name": "laser", "seed": seed, "axes": {},
                 "out": str(folder)})


def test_report_writes_table3_from_the_runs_data_blocks(tmp_path):
    root, runs = tmp_path / "store", []
    mmlu = {"train": 11135, "dev": 1591, "test": 3182, "per_category": False,
            "categories": {"anatomy": {"train": 1, "dev": 0, "test": 2}}}
    ood = {"math": {"accuracy": 0.1, "data": {"train": 0, "dev": 0, "test": 500, "per_category": False, "categories": {}}}}
    other_mix = {**mmlu, "categories": {"anatomy": {"train": 2, "dev": 0, "test": 1}}}  # a seed mixes the subjects anew
    for seed, data in ((1, other_mix), (0, mmlu)):
        _stored_run(root, runs, "mmlu", seed, data, ood)
    long = {"train": 82, "dev": 12, "test": 25, "per_category": True,
            "categories": {"few_shot": {"train": 24, "dev": 4, "test": 7}, "single_doc_qa": {"train": 15, "dev": 2, "test": 5}}}
    _stored_run(root, runs, "longbench", 0, long)
    (root / "sweep.json").write_text(json.dumps({"name": "store", "runs": runs}))
    written = {p.name for p in write_report(root, tmp_path / "report")}
    assert {"table3.md", "table3.tex", "table3.csv"} <= written and "table3_vs_paper.md" not in written
    report = (tmp_path / "report" / "table3.md").read_text()
    expected = to_markdown(table3({"mmlu": mmlu, "ood:math": ood["math"]["data"], "longbench": long},
                                  footnotes=["Counted in the stored runs longbench/laser/seed0, mmlu/laser/seed0 "
                                             "(metrics.json's data block)."]))
    assert report == expected  # one builder for the CLI and the report
    rows = _rows(report)
    assert rows["MMLU"] == ["11135", "1591", "3182", "15908"] * 2 and rows["MATH (OOD)"][:4] == ["0", "0", "500", "500"]
    assert rows["LongBench / Single-Doc QA"] == ["15", "2", "5", "22", "3534", "505", "1010", "5049"]
    assert "MMLU / anatomy" not in rows  # MMLU is not split per subject, so Table 3 lists it whole
    assert "Examples per split and category" in (tmp_path / "report" / "README.md").read_text()
    _stored_run(root, runs, "longbench", 1, {**long, "train": 81})
    (root / "sweep.json").write_text(json.dumps({"name": "store", "runs": runs}))
    write_report(root, tmp_path / "report")
    assert "LongBench: the runs differ in split sizes; shown: longbench/laser/seed0." in (tmp_path / "report" / "table3.md").read_text()
