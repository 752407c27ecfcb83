"""The lock of one run, safe where two machines share the run store over a network filesystem.

Two sweep processes, on one machine or on two that mount the store over NFS, Lustre or the like, never run one
run at once: ``run_lock`` takes the run in two layers, and both must be had.

1. ``flock`` on ``<run>/.lock``, non-blocking. Exact on a local disk, and released by the kernel when its holder
   dies. On NFSv4 (and NFSv3 with a lock manager) the client turns it into a lock that the server keeps for all
   clients. Where it is only local (NFSv3 mounted ``nolock``, Lustre ``localflock``, FUSE filesystems that ignore
   locks) it still separates the processes of one machine; where the filesystem refuses it (Lustre without
   ``flock``: ENOSYS; NFS without a reachable lock manager: ENOLCK) it is skipped.
2. A lease, ``<run>/.lease``, which relies only on what such filesystems do atomically on their server: a hard
   link (an ``O_EXCL`` create where links are not supported) fails when its name exists, and a rename moves one
   name in one step. The lease names its holder (host, PID namespace, boot, pid and process start, a random
   token) and is touched every ``heartbeat`` seconds by a daemon thread of the holder. It is stale, and taken
   over, when its holder ran on this machine (same host name, boot and PID namespace) and that process is gone
   (at once), or when nobody touched it for ``lifetime`` seconds (a holder on another machine crashed or lost the
   store), confirmed by watching it for one more heartbeat. Its age is read on the filesystem's clock: the mtime
   of a file just created in the same folder less the lease's mtime (``utime(path, None)`` lets an NFS server
   stamp it), so machines whose clocks disagree agree on it. A stale lease is broken by renaming it aside under a
   unique name and checking that the file moved is the lease judged stale (a lease touched or replaced meanwhile
   is put back), so of two takers only one wins.

A process that stalls for longer than ``lifetime`` (suspended, or cut off from the store) can find its lease
taken when it wakes: its heartbeat then logs an error. Runs are deterministic and every result file is written
atomically, so such an overlap costs time, not results.

Settings, from the environment: ``HARNESS_LOCK_HEARTBEAT`` seconds between touches (default 30),
``HARNESS_LOCK_LIFETIME`` seconds without a touch after which a lease of another machine is stale (default 300,
well above a network client's attribute cache of up to 60 s; each lease records its holder's settings, and a
taker applies those), ``HARNESS_LOCK_HOST`` the name this machine writes into its leases (default: its host
name; the tests give two processes two names; set it where machines share a host name).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from harness.common.files import umask
from harness.store.layout import LEASE, LOCK, safe_name

log = logging.getLogger("harness.store.lock")

HEARTBEAT, LIFETIME = 30.0, 300.0
# a hard link is refused here (FAT: EPERM; some FUSE and object-store filesystems): create with O_EXCL instead
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK, errno.EXDEV}


@contextmanager
def run_lock(folder: Path) -> Iterator[bool]:
    """Yields True when this process holds the run (its ``flock`` where the filesystem keeps one, and its lease),
    False when another process, here or on another machine, does."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK, "a+") as handle:
        if not _flock(handle.fileno()):
            yield False
            return
        try:
            lease = _take(folder)
            if lease is None:
                yield False
                return
            try:
                yield True
            finally:
                lease.release()
        finally:
            with suppress(OSError):
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def lock_is_held(folder: Path) -> bool:
    """Whether a process holds the run: its ``flock`` is taken, or its lease is there and not stale."""
    try:
        with open(folder / LOCK, "r+b") as handle:  # writable: NFS maps flock to a POSIX lock, which needs that
            if not _flock(handle.fileno()):
                return True
            with suppress(OSError):
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    except OSError:  # no lock file (never run), or a store this process may only read
        pass
    try:
        seen = _look(folder / LEASE)
    except OSError:  # a lease this process may not read: status shows the run by its other files
        return False
    return seen is not None and _stale(seen, folder) is None


def _flock(descriptor: int) -> bool:
    """False when another process holds the ``flock``; True when this one has it or the filesystem has none."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as error:  # ENOSYS, ENOLCK, EOPNOTSUPP: no flock on this filesystem, the lease alone guards
        log.debug("flock unavailable (%s): the run's lease alone guards it", error)
    return True


# ----- who holds a lease ---------------------------------------------------------------------------------------
def host_name() -> str:
    return os.environ.get("HARNESS_LOCK_HOST") or socket.gethostname()


def _setting(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


@lru_cache(maxsize=1)
def _pid_namespace() -> str | None:
    """This process's PID namespace: containers that share a host name count their pids apart."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


@lru_cache(maxsize=1)
def _boot() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _process(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks after boot) of a process from ``/proc``, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _alive(pid: int, start: str | None) -> bool:
    """Whether process ``pid`` of this machine runs; a zombie, or a pid reused by a process started at another
    time than ``start``, does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    except (OverflowError, ValueError):
        return False
    found = _process(pid)
    if found is None:
        return True
    state, started = found
    return state != "Z" and (start is None or started == start)


def _own_record(token: str, heartbeat: float, lifetime: float) -> dict[str, Any]:
    pid = os.getpid()
    found = _process(pid)
    return {"host": host_name(), "pid_namespace": _pid_namespace(), "boot": _boot(), "pid": pid,
            "start": found[1] if found else None, "token": token, "heartbeat": heartbeat, "lifetime": lifetime,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _on_this_machine(record: dict[str, Any]) -> bool:
    """Whether a lease's pid can be checked here. A lease of this host name from another boot counts as another
    machine's (two machines may share a name, and the first PID namespace's name is the same everywhere): it is
    stale only once untouched for its lifetime, which a lease of this machine before its restart soon is."""
    return (record.get("host"), record.get("pid_namespace"), record.get("boot")) == (host_name(), _pid_namespace(), _boot())


# ----- reading and judging a lease -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Seen:
    """A lease as read once: its record (None when empty or unreadable: one being created with O_EXCL, or not
    ours) and the file's identity and mtime."""

    record: dict[str, Any] | None
    inode: int
    mtime_ns: int

    @property
    def token(self) -> Any:
        return (self.record or {}).get("token")

    def same(self, other: _Seen) -> bool:
        return (self.token, self.inode, self.mtime_ns) == (other.token, other.inode, other.mtime_ns)


def _look(path: Path) -> _Seen | None:
    """The lease at ``path``, or None when there is none. Read through an open file: an open makes a network
    client ask the server for the file's attributes instead of using those it cached (close-to-open)."""
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            data = handle.read(8192)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        if error.errno == errno.ESTALE:  # replaced on the server while we looked
            return None
        raise
    try:
        record = json.loads(data)
    except ValueError:
        record = None
    return _Seen(record if isinstance(record, dict) else None, stat.st_ino, stat.st_mtime_ns)


def _filesystem_now(folder: Path) -> float:
    """Now on the clock that stamps files in ``folder`` (an NFS server's): the mtime of a file created there;
    this machine's clock where nothing can be created (a store this process may only read)."""
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=f"{LEASE}.clock-")
    except OSError:
        return time.time()
    try:
        return os.fstat(handle).st_mtime_ns / 1e9
    finally:
        os.close(handle)
        with suppress(OSError):
            os.unlink(name)


def _stale(seen: _Seen, folder: Path) -> str | None:
    """Why the lease ``seen`` no longer holds, or None while it does."""
    record = seen.record or {}
    pid = record.get("pid")
    if _on_this_machine(record) and isinstance(pid, int):
        return None if _alive(pid, record.get("start")) else f"its process {pid} on this machine is gone"
    lifetime = record.get("lifetime")
    lifetime = float(lifetime) if isinstance(lifetime, (int, float)) and lifetime > 0 else _setting("HARNESS_LOCK_LIFETIME", LIFETIME)
    age = _filesystem_now(folder) - seen.mtime_ns / 1e9
    return f"untouched for {age:.0f} s, beyond its lifetime of {lifetime:g} s" if age > lifetime else None


def _holder(seen: _Seen) -> str:
    record = seen.record or {}
    return f"host {record.get('host', '?')} pid {record.get('pid', '?')}"


# ----- taking, touching and giving back a lease ----------------------------------------------------------------
def _unique() -> str:
    return f"{safe_name(host_name())}-{os.getpid()}-{secrets.token_hex(4)}"


def _create(path: Path, source: Path, content: bytes) -> bool:
    """Put ``content`` at ``path`` unless the name is taken (then False): a hard link from ``source``, a file that
    holds it already (atomic on every local and network filesystem, and never seen half written), or an
    ``O_EXCL`` create where hard links are refused."""
    try:
        os.link(source, path)
        return True
    except FileExistsError:
        return False
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(handle, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    return True


def _remove_if_same(path: Path, seen: _Seen) -> bool:
    """Remove the lease at ``path`` if it is still the one ``seen`` (True when it was). It is renamed aside under
    a unique name first, in one step, so that of two processes doing this at once only one moves it; a lease that
    is not ``seen`` (touched by its live holder, or a newer one) is linked back."""
    aside = path.with_name(f"{path.name}.aside-{_unique()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    moved = _look(aside)
    if moved is None or moved.same(seen):
        aside.unlink(missing_ok=True)
        return True
    try:
        if not _create(path, aside, aside.read_bytes()):
            log.error("%s: a lease of %s moved aside could not be put back (another process took the run "
                      "meanwhile); its holder will find it lost", path, _holder(moved))
    finally:
        aside.unlink(missing_ok=True)
    return False


class Lease:
    """A held lease, touched by a daemon thread until ``release``."""

    def __init__(self, path: Path, token: str, heartbeat: float):
        self.path, self.token, self.heartbeat = path, token, heartbeat
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease of {path.parent}", daemon=True)
        self._thread.start()

    def _ours(self) -> bool:
        for attempt in range(2):  # a taker that moved it aside by mistake puts it back within moments
            seen = _look(self.path)
            if seen is not None and seen.token == self.token:
                return True
            if attempt == 0:
                time.sleep(min(1.0, self.heartbeat / 2))
        return False

    def _beat(self) -> None:
        failing = False
        while not self._stop.wait(self.heartbeat):
            try:
                if not self._ours():
                    self.lost = True
                    seen = _look(self.path)
                    log.error("%s: this process's lease on the run was taken over (now %s): it was not touched "
                              "for too long; another process may run this run too", self.path,
                              _holder(seen) if seen else "nobody")
                    return
                os.utime(self.path)  # no times given: the filesystem stamps it with its own clock
                failing = False
            except OSError as error:  # the store is unreachable for now: try again at the next beat
                if not failing:
                    log.warning("%s: could not touch the run's lease (%s); trying again every %g s", self.path,
                                error, self.heartbeat)
                failing = True

    def release(self) -> None:
        self._stop.set()
        self._thread.join()
        try:
            seen = _look(self.path)
            if seen is not None and seen.token == self.token:
                _remove_if_same(self.path, seen)
        except OSError as error:  # left behind: stale once this process ends (here) or its lifetime passes (elsewhere)
            log.warning("%s: could not give the run's lease back (%s)", self.path, error)


def _take(folder: Path) -> Lease | None:
    """This process's lease on the run in ``folder``, or None when another process holds one that is not stale."""
    path = folder / LEASE
    heartbeat = _setting("HARNESS_LOCK_HEARTBEAT", HEARTBEAT)
    lifetime = _setting("HARNESS_LOCK_LIFETIME", LIFETIME)
    if not 0 < 3 * heartbeat <= lifetime:
        raise ValueError(f"HARNESS_LOCK_LIFETIME ({lifetime:g} s) must be at least three HARNESS_LOCK_HEARTBEAT "
                         f"({heartbeat:g} s), and both positive: a live holder's lease would be taken")
    token = secrets.token_hex(16)
    content = (json.dumps(_own_record(token, heartbeat, lifetime)) + "\n").encode()
    handle, name = tempfile.mkstemp(dir=folder, prefix=f"{LEASE}.claim-")
    claim = Path(name)
    try:
        with os.fdopen(handle, "wb") as file:
            os.fchmod(file.fileno(), 0o666 & ~umask())  # readable by the other users who run sweeps in this store
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        for _ in range(5):
            if _create(path, claim, content):
                return Lease(path, token, heartbeat)
            seen = _look(path)
            if seen is None:  # given back meanwhile
                continue
            if seen.token == token:  # ours: an NFS client resent a link whose reply was lost
                return Lease(path, token, heartbeat)
            why = _stale(seen, folder)
            if why is None:
                return None
            if not _on_this_machine(seen.record or {}):  # watch it for one more of its heartbeats
                beat = (seen.record or {}).get("heartbeat")
                beat = float(beat) if isinstance(beat, (int, float)) and 0 < beat < lifetime else heartbeat
                time.sleep(1.1 * beat)
                again = _look(path)
                if again is None or not again.same(seen):
                    continue
            if _remove_if_same(path, seen):
                log.warning("%s: took over the run from %s (%s)", folder, _holder(seen), why)
        return None
    finally:
        claim.unlink(missing_ok=True)
