"""A report is all or nothing: built in a temporary folder and published whole, one writer at a time; a
folder that also holds other files keeps them; an incomplete run store is flagged, and the flag goes away."""

from __future__ import annotations

import fcntl
import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from harness.report import write
from harness.report.write import INCOMPLETE, REPORT_MARKER, write_report

STORE = Path(__file__).resolve().parents[1] / "assets" / "quickstart_store"


def test_a_report_that_fails_midway_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    out = tmp_path / "report"
    write_report(STORE, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken_figures(frame, folder):
        (folder / "fig_half_written.png").write_bytes(b"partial")
        raise RuntimeError("killed while drawing")

    monkeypatch.setattr(write, "all_figures", broken_figures)
    with pytest.raises(RuntimeError, match="killed while drawing"):
        write_report(STORE, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report.")] == [".report.lock"]  # no staging left


@pytest.mark.slow
def test_a_second_writer_waits_for_the_first(tmp_path):
    out = tmp_path / "report"
    finished = threading.Event()
    with open(tmp_path / ".report.lock", "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # another process is writing this report
        writer = threading.Thread(target=lambda: (write_report(STORE, out), finished.set()))
        writer.start()
        time.sleep(1.5)
        assert not finished.is_set() and not out.exists()
    writer.join(60)
    assert finished.is_set() and (out / "table1.md").exists()


@pytest.mark.slow
def test_a_shared_folder_keeps_its_other_files_and_the_incomplete_flag_is_cleared(tmp_path):
    store = tmp_path / "store"
    shutil.copytree(STORE, store)
    manifest = json.loads((store / "sweep.json").read_text())
    missing = dict(manifest["runs"][0])
    missing["out"] = str(store / "not_run_yet")
    missing["run_id"] = "synth_mix/extra/seed9"
    manifest["runs"].append(missing)
    (store / "sweep.json").write_text(json.dumps(manifest))
    out = tmp_path / "shared"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    write_report(store, out)
    assert "synth_mix/extra/seed9" in (out / INCOMPLETE).read_text()
    assert "Incomplete" in (out / "README.md").read_text()
    assert (out / "notes.txt").read_text() == "mine" and not (out / REPORT_MARKER).exists()
    manifest["runs"].pop()
    (store / "sweep.json").write_text(json.dumps(manifest))
    write_report(store, out)
    assert not (out / INCOMPLETE).exists() and (out / "notes.txt").exists()
