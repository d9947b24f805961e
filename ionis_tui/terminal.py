"""The app's own handle on the terminal, and what to do with it when the SSH connection
drops (SIGHUP)."""

from __future__ import annotations

import os
import stat
import sys
import time
from typing import IO

# Textual writes the screen to file descriptor 2. The engine briefly points fd 2 at
# /dev/null while the embedded database starts (its raw lock message would scribble over
# the screen), and any frame written meanwhile was lost: the screen stayed stale and the
# terminal reset at exit could vanish. The app draws through a private duplicate instead.
_private: list[IO[str]] = []


def private_terminal() -> IO[str] | None:
    """A text file on a duplicate of fd 2, made once per process; None if there is none."""
    if not _private:
        try:
            fd = os.dup(sys.__stderr__.fileno())
        except (AttributeError, OSError, ValueError):
            return None
        enc = getattr(sys.__stderr__, "encoding", None) or "utf-8"
        _private.append(os.fdopen(fd, "w", encoding=enc, errors="replace", closefd=True))
    return _private[0]


def driver_class():
    """Textual's terminal driver, drawing through private_terminal(); None on Windows
    (its driver has no such seam) or without a stderr, where Textual's default stands."""
    if sys.platform == "win32" or private_terminal() is None:
        return None
    from textual.drivers.linux_driver import LinuxDriver

    class PrivateTerminalDriver(LinuxDriver):
        def __init__(self, app, **kwargs) -> None:
            super().__init__(app, **kwargs)
            self._file = private_terminal()

    return PrivateTerminalDriver


def detach_terminal() -> None:
    """Point stdout/stderr at /dev/null. After a hangup, writes to the dead terminal fail or
    block, and Textual's output thread would hang the exit; the screen is gone anyway."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    fds = [1, 2] + [f.fileno() for f in _private if not f.closed]
    for fd in fds:
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
