"""Ctrl-C handling shared by the long commands (train, data import)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable


def on_first_ctrl_c(handler: Callable) -> Callable[[], None]:
    """Route SIGINT to handler (main thread only) and return what restores the handler before.

    An ignored SIGINT stays ignored, as Python itself leaves it: a script that starts a job with
    `&` asks for that job to outlive a Ctrl-C at the script's terminal (the SIGHUP rule of
    `nohup`, engine.cli.train_cmd)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return lambda: None
    previous = signal.signal(signal.SIGINT, handler)
    return lambda: signal.signal(signal.SIGINT, previous)
