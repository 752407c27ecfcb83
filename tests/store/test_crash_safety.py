"""A crash at any moment leaves nothing that a later reader takes for a result: a writer that fails or is killed
(``kill -9``) while writing ``metrics.json`` or ``checkpoint.pt`` leaves the file as it was, its temporary file
is named so that no reader opens it, and a JSONL file cut short at its end is read without its last line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.common.files import read_jsonl, write_atomic, write_json_atomic
from harness.store.layout import CHECKPOINT, CONFIG, METRICS, PARTIAL, PENDING
from harness.store.run_folder import finished_metrics, run_state

# writes half of its file, says so, and waits to be killed
KILLED_WRITER = """
import sys, time
from pathlib import Path
from harness.common.files import write_atomic

def half(handle):
    handle.write(b'{"test": {"accuracy": 0.5}, "method": "lase')
    handle.flush()
    Path(sys.argv[2]).touch()
    time.sleep(120)

write_atomic(Path(sys.argv[1]), half)
"""


def _run_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    write_json_atomic(folder / CONFIG, {"config": {"method": {"name": "laser"}, "task": {"name": "gsm8k"}, "seed": 0}})
    return folder


def _kill_while_writing(path: Path, tmp_path: Path) -> None:
    ready = tmp_path / "half-written"
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path), str(ready)])
    deadline = time.monotonic() + 60
    while not ready.exists() and writer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ready.exists(), "the writer never got half way"
    writer.send_signal(signal.SIGKILL)
    writer.wait()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_writer_killed_while_writing_metrics_leaves_no_result(tmp_path):
    folder = _run_folder(tmp_path)
    _kill_while_writing(folder / METRICS, tmp_path)
    assert not (folder / METRICS).exists()
    assert finished_metrics(folder) is None and run_state(folder) == PENDING
    leftover = _leftovers(folder)  # kill -9 leaves the temporary file: hidden, and no reader opens it
    assert len(leftover) == 1 and leftover[0].startswith(f".{METRICS}.")


def test_a_writer_killed_while_writing_a_checkpoint_leaves_the_last_one(tmp_path):
    folder = _run_folder(tmp_path)
    write_atomic(folder / CHECKPOINT, lambda handle: handle.write(b"iteration 1"))
    _kill_while_writing(folder / CHECKPOINT, tmp_path)
    assert (folder / CHECKPOINT).read_bytes() == b"iteration 1"
    assert run_state(folder) == PARTIAL


def test_a_write_that_fails_half_way_leaves_the_file_as_it_was_and_nothing_else(tmp_path):
    folder = _run_folder(tmp_path)
    write_json_atomic(folder / "iterations.jsonl", [{"iteration": 1}])

    def fails(handle):
        handle.write(b'{"iteration": 2')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(folder / "iterations.jsonl", fails)
    assert json.loads((folder / "iterations.jsonl").read_text()) == [{"iteration": 1}]
    assert _leftovers(folder) == []


def test_a_jsonl_file_cut_short_at_its_end_is_read_without_its_last_line(tmp_path):
    path = tmp_path / "selections.jsonl"
    path.write_text('{"step": 0}\n{"step": 1}\n{"step": 2, "reward_mo')
    with pytest.warns(RuntimeWarning, match="last line is cut short"):
        assert read_jsonl(path) == [{"step": 0}, {"step": 1}]
    path.write_text('{"step": 0}\n{"step": 1, "rew\n{"step": 2}\n')  # damage inside is no crash's: an error
    with pytest.raises(ValueError, match="line 2"):
        read_jsonl(path)
    path.write_text('{"step": 0}\n{"step": 1}\n')
    assert read_jsonl(path) == [{"step": 0}, {"step": 1}]
