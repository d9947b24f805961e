"""What to do with the terminal when the SSH connection drops (SIGHUP)."""

from __future__ import annotations

import os
import stat
import time


def detach_terminal() -> None:
    """Point stdout/stderr at /dev/null. After a hangup, writes to the dead terminal fail or
    block, and Textual's output thread would hang the exit; the screen is gone anyway."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    for fd in (1, 2):
        try:
            # A character device: the terminal (isatty() already fails on a hung-up one).
            if stat.S_ISCHR(os.fstat(fd).st_mode):
                os.dup2(devnull, fd)
        except OSError:
            pass
    os.close(devnull)


def exit_later(seconds: float) -> None:
    """Thread target: end the process after `seconds` if a normal exit has not happened."""
    time.sleep(seconds)
    os._exit(0)
