"""Workers of the local executor die with their sweep, even when it is killed with SIGKILL (before, they were
re-parented, finished the runs queued to them holding those runs' locks, then blocked forever)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

PARENT = textwrap.dedent("""
    import multiprocessing, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    sys.path.insert(0, {folder!r})
    from harness.common.processes import die_with_parent
    from slow_task import record_pid_then_sleep

    if __name__ == "__main__":
        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent,
                                   initargs=(os.getpid(),))
        futures = [pool.submit(record_pid_then_sleep, {folder!r}, i) for i in range(2)]
        time.sleep(600)
""")

TASK = textwrap.dedent("""
    import os, time
    from pathlib import Path

    def record_pid_then_sleep(folder, index):
        Path(folder, f"worker{index}.pid").write_text(str(os.getpid()))
        time.sleep(300)  # a long training run
""")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state  # a zombie is dead, just not reaped yet (containers may lack a reaper)


def test_workers_die_within_seconds_when_the_sweep_is_killed(tmp_path):
    (tmp_path / "slow_task.py").write_text(TASK)
    (tmp_path / "parent.py").write_text(PARENT.format(folder=str(tmp_path)))
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py")], cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("worker*.pid"))) < 2:
            assert time.monotonic() < deadline, "the workers never started"
            assert parent.poll() is None, "the parent exited early"
            time.sleep(0.2)
        workers = [int(p.read_text()) for p in tmp_path.glob("worker*.pid")]
        assert all(_alive(pid) for pid in workers)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in workers), "orphaned workers are still running"
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid_file in tmp_path.glob("worker*.pid"):
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
