"""The run lock where ``flock`` does not reach from one machine to another (an NFS mount with ``nolock``, Lustre
with ``localflock``, a FUSE filesystem): two "machines" are two processes that write different host names into
their leases (``HARNESS_LOCK_HOST``) and whose ``flock`` always succeeds. Exactly one of them runs a run; a lease
whose holder died on this machine is taken at once, one of another machine only after its lifetime without a
heartbeat; and ``status`` shows a run held by another machine as running."""

from __future__ import annotations

import fcntl
import json
import logging
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.store import lock
from harness.store.layout import LEASE, LOCK, PENDING, RUNNING
from harness.store.run_folder import run_lock, run_state

SPAWN = multiprocessing.get_context("spawn")


def _as_machine(host: str, heartbeat: float = 30.0, lifetime: float = 300.0) -> None:
    """This process as one machine of a store on a network filesystem: its own host name, and a ``flock`` that
    always succeeds, as on an NFS mount with ``nolock``."""
    os.environ.update(HARNESS_LOCK_HOST=host, HARNESS_LOCK_HEARTBEAT=str(heartbeat), HARNESS_LOCK_LIFETIME=str(lifetime))
    fcntl.flock = lambda descriptor, operation: None


@pytest.fixture
def no_flock(monkeypatch):
    monkeypatch.setattr(fcntl, "flock", lambda descriptor, operation: None)
    monkeypatch.setenv("HARNESS_LOCK_HOST", "here")


def _write_lease(folder: Path, age: float = 0.0, **record) -> Path:
    """A lease as another process writes it (``record`` overrides this process's own), touched ``age`` s ago."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LEASE
    path.write_text(json.dumps({**lock._own_record("someone-else", 0.05, 1.0), **record}) + "\n")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def _race(folders: list[str], host: str, barrier, results) -> None:
    _as_machine(host)
    for folder in folders:
        barrier.wait(60)
        with run_lock(Path(folder)) as held:
            results.put((folder, host, held))
            barrier.wait(60)  # a holder holds until both have tried


def _race_two_machines(folders: list[Path]) -> dict[str, list[str]]:
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    racers = [SPAWN.Process(target=_race, args=([str(f) for f in folders], host, barrier, results)) for host in ("a", "b")]
    for racer in racers:
        racer.start()
    winners: dict[str, list[str]] = {str(f): [] for f in folders}
    for _ in range(2 * len(folders)):
        folder, host, held = results.get(timeout=120)
        if held:
            winners[folder].append(host)
    for racer in racers:
        racer.join(60)
        assert racer.exitcode == 0
    return winners


def test_two_machines_racing_for_the_same_runs_never_both_hold_one(tmp_path):
    folders = [tmp_path / f"run{i}" for i in range(16)]
    for folder in folders[1::2]:  # every other run left by a machine that crashed long ago: both race to take it over
        _write_lease(folder, age=3600, host="gone")
    winners = _race_two_machines(folders)
    assert all(len(hosts) == 1 for hosts in winners.values()), winners
    for folder in folders:  # given back, and nothing of the protocol left behind
        assert sorted(p.name for p in folder.iterdir()) == [LOCK]


@pytest.fixture
def two_mounts(tmp_path):
    """One folder mounted twice through FUSE (bindfs): ``flock`` on one mount does not see the other's, as on
    two NFS clients mounted ``nolock``; link, rename and create go to the one folder underneath."""
    if shutil.which("bindfs") is None or not os.path.exists("/dev/fuse") or os.geteuid() != 0:
        pytest.skip("needs bindfs, /dev/fuse and root to mount one folder twice")
    shared, mounts = tmp_path / "shared", [tmp_path / "mount_a", tmp_path / "mount_b"]
    for folder in (shared, *mounts):
        folder.mkdir()
    mounted = []
    try:
        for mount in mounts:
            if subprocess.run(["bindfs", str(shared), str(mount)], capture_output=True).returncode != 0:
                pytest.skip("bindfs could not mount here")
            mounted.append(mount)
        yield mounts
    finally:
        for mount in mounted:
            subprocess.run(["umount", str(mount)], capture_output=True)


def test_two_mounts_of_one_store_without_a_shared_flock_never_both_hold_a_run(two_mounts):
    """A real filesystem on which flock does not reach from one client to the other, nothing patched."""
    first, second = (open(mount / "probe", "a+") for mount in two_mounts)
    fcntl.flock(first, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.flock(second, fcntl.LOCK_EX | fcntl.LOCK_NB)  # both "hold" it: the case the lease is for
    first.close(), second.close()
    runs = [f"run{i}" for i in range(12)]
    for run in runs[1::2]:  # left by a machine that crashed long ago
        _write_lease(two_mounts[0].parent / "shared" / run, age=3600, host="gone")
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    racers = [SPAWN.Process(target=_race_on_mount, args=(str(mount), runs, host, barrier, results))
              for mount, host in zip(two_mounts, ("a", "b"))]
    for racer in racers:
        racer.start()
    winners: dict[str, list[str]] = {run: [] for run in runs}
    for _ in range(2 * len(runs)):
        run, host, held = results.get(timeout=120)
        if held:
            winners[run].append(host)
    for racer in racers:
        racer.join(60)
        assert racer.exitcode == 0
    assert all(len(hosts) == 1 for hosts in winners.values()), winners


def _race_on_mount(mount: str, runs: list[str], host: str, barrier, results) -> None:
    os.environ.update(HARNESS_LOCK_HOST=host)
    for run in runs:
        barrier.wait(60)
        with run_lock(Path(mount) / run) as held:
            results.put((run, host, held))
            barrier.wait(60)


def _hold(folder: str, host: str, heartbeat: float, lifetime: float, ready, release) -> None:
    _as_machine(host, heartbeat, lifetime)
    with run_lock(Path(folder)) as held:
        assert held
        ready.set()
        release.wait(120)


def _holder(folder: Path, host: str, heartbeat: float = 30.0, lifetime: float = 300.0):
    ready, release = SPAWN.Event(), SPAWN.Event()
    process = SPAWN.Process(target=_hold, args=(str(folder), host, heartbeat, lifetime, ready, release))
    process.start()
    assert ready.wait(60)
    return process, release


def _held(folder: Path) -> bool:
    with run_lock(folder) as held:
        return held


def _kill(process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.join(30)


def test_a_lease_whose_holder_died_on_this_machine_is_taken_over_at_once(tmp_path, no_flock, monkeypatch):
    monkeypatch.setenv("HARNESS_LOCK_LIFETIME", "3600")  # so that only the dead process can free it
    folder = tmp_path / "run"
    holder, _ = _holder(folder, "here")
    assert run_state(folder) == RUNNING and not _held(folder)
    _kill(holder)
    started = time.monotonic()
    assert run_state(folder) == PENDING
    assert _held(folder) and time.monotonic() - started < 5


def test_a_lease_of_another_machine_is_taken_over_only_after_its_lifetime_without_a_heartbeat(tmp_path, no_flock):
    folder = tmp_path / "run"
    holder, release = _holder(folder, "elsewhere", heartbeat=0.1, lifetime=2.0)
    try:
        time.sleep(2.5)  # beyond its lifetime: its heartbeat keeps it
        assert run_state(folder) == RUNNING and not _held(folder)
    finally:
        _kill(holder)
    killed = time.monotonic()
    assert run_state(folder) == RUNNING and not _held(folder)  # the machine may be alive: no pid to check there
    while run_state(folder) == RUNNING and time.monotonic() - killed < 30:
        time.sleep(0.1)
    assert run_state(folder) == PENDING and time.monotonic() - killed >= 1.8
    assert _held(folder)


def test_status_shows_a_run_leased_by_another_machine_as_running(tmp_path, no_flock):
    folder = tmp_path / "run"
    lease = _write_lease(folder, host="elsewhere", lifetime=60)
    assert run_state(folder) == RUNNING
    then = time.time() - 61
    os.utime(lease, (then, then))  # no heartbeat for its lifetime
    assert run_state(folder) == PENDING
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _write_lease(folder, host="here", pid=gone.pid, lifetime=3600)
    assert run_state(folder) == PENDING  # its process on this machine is gone
    _write_lease(folder, host="here", pid=os.getpid(), lifetime=3600)
    assert run_state(folder) == RUNNING


def test_a_taker_never_removes_a_lease_that_its_holder_touched_since(tmp_path, no_flock):
    folder = tmp_path / "run"
    lease = _write_lease(folder, age=100, host="elsewhere")
    seen = lock._look(lease)
    os.utime(lease)  # the holder's heartbeat, between the taker's look and its break
    assert not lock._remove_if_same(lease, seen)
    assert lock._look(lease).token == "someone-else"
    assert sorted(p.name for p in folder.iterdir()) == [LEASE]


def test_a_holder_whose_lease_was_taken_over_notices_and_leaves_the_new_one(tmp_path, no_flock, monkeypatch, caplog):
    monkeypatch.setenv("HARNESS_LOCK_HEARTBEAT", "0.05")
    monkeypatch.setenv("HARNESS_LOCK_LIFETIME", "1")
    folder = tmp_path / "run"
    folder.mkdir()
    held = lock._take(folder)
    assert held is not None
    with caplog.at_level(logging.ERROR, logger="harness.store.lock"):
        os.replace(_write_lease(tmp_path / "other", host="elsewhere"), folder / LEASE)  # another machine took it
        deadline = time.monotonic() + 10
        while not held.lost and time.monotonic() < deadline:
            time.sleep(0.05)
    assert held.lost and "taken over" in caplog.text
    held.release()
    assert lock._look(folder / LEASE).token == "someone-else"


def test_settings_under_which_a_live_lease_could_be_taken_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_LOCK_HEARTBEAT", "10")
    monkeypatch.setenv("HARNESS_LOCK_LIFETIME", "20")
    with pytest.raises(ValueError, match="at least three"):
        lock._take(tmp_path)


def test_a_lease_of_this_host_name_from_another_boot_counts_as_another_machines(tmp_path, no_flock):
    """Two machines may share a name; after a restart its lease is soon untouched for its lifetime."""
    lease = _write_lease(tmp_path / "run", host="here", pid=os.getpid() + 10**6, boot="another-boot", lifetime=60)
    assert run_state(tmp_path / "run") == RUNNING  # its pid means nothing here
    then = time.time() - 61
    os.utime(lease, (then, then))
    assert run_state(tmp_path / "run") == PENDING


def _run_as_machine(config, host: str, barrier, results) -> None:
    _as_machine(host)
    from harness.run.in_store import execute_in_store  # imports torch: only in this slow test's processes

    barrier.wait(60)
    results.put(execute_in_store(config, threads=1)["status"])


@pytest.mark.slow
def test_two_machines_given_the_same_run_run_it_once(tmp_path, tiny_models, data_dir):
    from harness.loop.run_config import build_run_config

    from conftest import tiny_run_config

    config = build_run_config(tiny_run_config(tiny_models, data_dir, tmp_path))
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    machines = [SPAWN.Process(target=_run_as_machine, args=(config, host, barrier, results)) for host in ("a", "b")]
    for machine in machines:
        machine.start()
    statuses = sorted(results.get(timeout=600) for _ in machines)
    for machine in machines:
        machine.join(60)
    assert statuses in (["busy", "done"], ["done", "skipped"])
    log = (Path(config.out) / "run.log").read_text()
    assert log.count("iteration 1 done") == 1
