"""Is a process still there? One answer for run folders, locks, temp files and the app."""

from __future__ import annotations

import os


def pid_alive(pid: int | None) -> bool:
    """True while `pid` exists on this host (owned by anyone); our own child is reaped first,
    so a finished child does not linger as a zombie that still answers kill(0)."""
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:  # not our child: ask the kernel
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True
