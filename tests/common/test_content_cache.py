"""The shared content cache never fails a run: concurrent first opens, a corrupt file, a damaged entry and a
database locked for longer than the cache may wait; on a filesystem that other machines may share, each machine
keeps its own file."""

from __future__ import annotations

import multiprocessing
import socket
import sqlite3
import warnings

import pytest

from harness.common import content_cache
from harness.common.content_cache import ContentCache, mount_type


def _open_and_use(path: str, barrier, index: int, results) -> None:
    barrier.wait()
    try:
        cache = ContentCache(path)
        cache.put(f"key-{index}", {"value": index})
        results.put((index, cache.get(f"key-{index}"), cache.disabled))
    except BaseException as error:  # reported to the parent, which fails the test
        results.put((index, repr(error), None))


@pytest.mark.slow
def test_eight_processes_opening_a_new_cache_at_once_never_fail(tmp_path):
    """Before the fix, 5 of 40 such rounds failed with 'database is locked' at PRAGMA journal_mode=WAL."""
    context = multiprocessing.get_context("spawn")
    for round_ in range(12):
        path = str(tmp_path / f"round{round_}.sqlite")
        barrier, results = context.Barrier(8), context.Queue()
        workers = [context.Process(target=_open_and_use, args=(path, barrier, i, results)) for i in range(8)]
        for worker in workers:
            worker.start()
        outcomes = sorted(results.get(timeout=120) for _ in workers)
        for worker in workers:
            worker.join(timeout=60)
        assert outcomes == [(i, {"value": i}, False) for i in range(8)], f"round {round_}: {outcomes}"
        assert len(ContentCache(path).get_many([f"key-{i}" for i in range(8)])) == 8


def test_a_corrupt_cache_file_is_moved_aside_with_one_warning_and_rebuilt(tmp_path):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.warns(RuntimeWarning, match="not a readable SQLite database") as caught:
        cache = ContentCache(path)
    assert len(caught) == 1
    cache.put("k", [1, 2])
    assert cache.get("k") == [1, 2] and not cache.disabled
    aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")


def test_a_damaged_entry_is_a_miss_and_is_overwritten(tmp_path):
    cache = ContentCache(tmp_path / "cache.sqlite")
    with sqlite3.connect(tmp_path / "cache.sqlite") as db:
        db.execute("INSERT INTO entries (key, value) VALUES ('k', '{\"trunc')")
    assert cache.get("k") is None and cache.misses == 1
    cache.put("k", {"ok": True})
    assert cache.get("k") == {"ok": True}


def test_a_cache_locked_beyond_the_wait_turns_itself_off_and_the_caller_goes_on(tmp_path):
    path = tmp_path / "cache.sqlite"
    ContentCache(path).put("k", 1)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing for a long time
    try:
        cache = ContentCache(path, max_wait=0.5)
        with pytest.warns(RuntimeWarning, match="still locked after") as caught:
            cache.put("other", 2)
        assert len(caught) == 1 and cache.disabled
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no second warning
            assert cache.get("k") is None  # computed without the cache from now on
            cache.put("more", 3)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ContentCache(path).get_many(["k", "other", "more"]) == {"k": 1}


def test_an_unusable_folder_turns_the_cache_off_instead_of_failing(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(RuntimeWarning, match="cannot be used"):
        cache = ContentCache(blocker / "cache.sqlite")
    assert cache.disabled and cache.get("k") is None
    cache.put("k", 1)


MOUNTINFO = """\
22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
30 22 0:40 / /shared rw,relatime - nfs4 server:/export rw,vers=4.2
31 30 0:41 / /shared/my\\040scratch rw,relatime - lustre 10.0.0.1@tcp:/scratch rw,localflock
32 22 0:42 / /data rw - ext4 /dev/sdb1 rw
33 32 0:43 / /data rw - fuse.sshfs host:/data rw
"""


def test_the_filesystem_of_a_path_is_its_longest_mount_point_and_the_last_mount_on_it():
    assert mount_type("/home/me/store", MOUNTINFO) == "ext4"
    assert mount_type("/shared/store/.cache", MOUNTINFO) == "nfs4"
    assert mount_type("/shared/my scratch/store", MOUNTINFO) == "lustre"  # \040 is a space
    assert mount_type("/sharedstore", MOUNTINFO) == "ext4"
    assert mount_type("/data/store", MOUNTINFO) == "fuse.sshfs"  # mounted over /data


@pytest.mark.parametrize("kind, per_host", [("ext4", False), ("tmpfs", False), ("nfs4", True), ("lustre", True),
                                            ("fuse.sshfs", True), (None, True)])
def test_on_a_filesystem_other_machines_may_share_each_machine_keeps_its_own_cache_file(tmp_path, monkeypatch, kind,
                                                                                      per_host):
    """SQLite's WAL needs memory shared by every user of the file, which two machines do not have."""
    monkeypatch.setattr(content_cache, "filesystem_type", lambda path: kind)
    cache = ContentCache(tmp_path / "content.sqlite")
    expected = f"content-{socket.gethostname()}.sqlite" if per_host else "content.sqlite"
    assert cache.path == tmp_path / expected
    cache.put("k", [1])
    assert ContentCache(tmp_path / "content.sqlite").get("k") == [1] and (tmp_path / expected).exists()
