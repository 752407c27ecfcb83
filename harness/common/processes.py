"""Child processes that die with their parent: a sweep's workers and the world's builders, so that a sweep
killed even by ``kill -9`` leaves no orphan training on (and holding a run's lock or the world's build lock).

Use ``die_with_parent`` as a ``ProcessPoolExecutor`` initializer with ``initargs=(os.getpid(),)``: the child
asks the kernel to kill it when its parent dies (Linux ``PR_SET_PDEATHSIG``), and a watchdog thread that polls
the parent's pid does the same where that is missing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 1.0


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker as soon as the sweep process that started it is gone."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
