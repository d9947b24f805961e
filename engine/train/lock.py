"""One trainer per run folder: <run>/trainer.lock, held with flock while the trainer lives.

The kernel drops a flock when its process dies (kill -9, out of memory), so a dead trainer
never blocks the folder; the file's content (pid, host, since) names the holder for the
refusal message and, left behind by a trainer that died, lets the next one say it took over.
A clean release empties the file."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from engine.errors import InputError
from engine.train.rundir import now_iso

LOCK = "trainer.lock"
TRIES = 5  # is_held() probes hold the lock for microseconds: a refusal is retried first


def is_held(run_dir: str | os.PathLike) -> bool | None:
    """Does a live process hold the folder's lock now? None when there is no lock file (a run
    from before locks, or an unreadable folder). Unlike a pid check, immune to pid reuse."""
    try:
        fd = os.open(Path(run_dir, LOCK), os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _holder(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


class RunLock:
    def __init__(self, fd: int, note: str) -> None:
        self._fd: int | None = fd
        self.note = note  # "" or what happened to a stale lock

    @classmethod
    def acquire(cls, run_dir: str | os.PathLike) -> RunLock:
        """Take the folder's lock or raise InputError naming the trainer (pid, host) holding it."""
        path = Path(run_dir, LOCK)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        for attempt in range(TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if attempt < TRIES - 1:
                    time.sleep(0.02)
        else:
            h = _holder(fd)
            os.close(fd)
            raise InputError(f"run folder {run_dir} is in use by trainer pid {h.get('pid', '?')} on host "
                             f"{h.get('host', '?')} (since {h.get('since', '?')}); watch it with "
                             f"`ionis-tui runs attach {Path(run_dir).name}` or end it with "
                             f"`ionis-tui runs stop {Path(run_dir).name}`") from None
        old = _holder(fd)
        note = ""
        if old.get("pid") not in (None, os.getpid()):
            note = (f"took over the stale lock of trainer pid {old.get('pid')} on host {old.get('host')} "
                    f"(since {old.get('since')}): that process is gone")
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": now_iso()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, me, 0)
        return cls(fd, note)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # a clean end leaves no holder to report as stale
        finally:
            os.close(fd)  # closing drops the flock

    def __del__(self) -> None:
        try:
            self.release()
        except OSError:
            pass
