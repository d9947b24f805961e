"""A trainer's sign of progress: <run>/heartbeat, whose mtime is the last time the run moved.

The trainer's loop only records a monotonic time per step (mark()); a daemon thread copies
that time onto the file's mtime every BEAT_S. A frozen trainer (SIGSTOP, a hung device call,
a suspended machine) stops moving the mtime, so `age()` grows and the run-state rule shows
the run as stalled once the age passes the run's stall_after_s (recorded in state.json).
While loading data or paused, the trainer is waiting on purpose: the thread stamps "now" as
long as the process runs at all.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

HEARTBEAT = "heartbeat"
BEAT_S = 1.0


class Heartbeat:
    def __init__(self, run_dir: str | os.PathLike, waiting: Callable[[], bool]) -> None:
        self.path = Path(run_dir, HEARTBEAT)
        self._waiting = waiting            # True while idle on purpose (loading, paused)
        self._last = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="run-heartbeat", daemon=True)

    def mark(self) -> None:
        """The run moved (a step, an epoch's end, a state change): one float store."""
        self._last = time.monotonic()

    def start(self) -> Heartbeat:
        self._beat()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=2.0)

    def _loop(self) -> None:
        while not self._done.wait(BEAT_S):
            self._beat()

    def _beat(self) -> None:
        if self._waiting():
            self.mark()
        stamp = time.time() - (time.monotonic() - self._last)
        try:
            try:
                os.utime(self.path, (stamp, stamp))
            except FileNotFoundError:
                self.path.touch()
                os.utime(self.path, (stamp, stamp))
        except OSError:
            pass  # a full disk or a removed folder: the run's own writes report it


def age(run_dir: str | os.PathLike, now: float | None = None) -> float | None:
    """Seconds since the run last moved; None when it keeps no heartbeat (older runs)."""
    try:
        mtime = Path(run_dir, HEARTBEAT).stat().st_mtime
    except OSError:
        return None
    return max(0.0, (time.time() if now is None else now) - mtime)
