"""Atomic replacement of a table: build under a staging name, then swap it in.

Every writer of a whole table (demo seeding, the signature build from spots, the bundle
import, the spot ingest) fills a staging table and calls `swap_in`; a cancel, an error or a
kill before the swap leaves the old table untouched, never half-written. A signature table's
provenance (engine.data.provenance) is set on the staging table first, so the one swap
changes rows and provenance together.

Ctrl-C (SIGINT) is held from just before the swap until the caller has finished: an
interrupt that comes after the point of no return cannot make a command say "interrupted,
nothing changed" over a table it has replaced (CommitWindow says whether one came)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

from engine.data.provenance import Provenance, comment_sql
from engine.settings import DatabaseSettings

TEST_SIGNAL_ENV = "IONIS_TEST_SIGNAL"  # tests only: "<point>:<INT|KILL|STOP>", see test_point


def test_point(name: str) -> None:
    """Tests only: with IONIS_TEST_SIGNAL=<name>:<INT|KILL|STOP> this process sends itself that
    signal here, so the tests hit "right after the swap" with real signals, every time."""
    point, _, sig = os.environ.get(TEST_SIGNAL_ENV, "").partition(":")
    if point == name:
        os.kill(os.getpid(), getattr(signal, f"SIG{sig}"))


def staging_name(db: DatabaseSettings, suffix: str) -> str:
    """`<table>__<suffix>`, or `ionis_<suffix>` when that would pass ClickHouse's name limit."""
    name = f"{db.table}__{suffix}"
    return name if len(name) <= 128 else f"ionis_{suffix}"


class CommitWindow:
    """A command's span (CLI): Ctrl-C interrupts as usual until a swap begins; from then on
    until the window closes it is only recorded (`late`), so the command finishes, cleans
    up and reports what it did instead of "interrupted" over a table it has replaced."""

    def __init__(self) -> None:
        self.got: list[int] = []
        self.held = False
        self._opened_with = None

    @property
    def late(self) -> bool:
        """A Ctrl-C came after the swap began: too late to stop, the new table is in."""
        return self.held and bool(self.got)

    def __enter__(self) -> CommitWindow:
        if _main_thread():
            self._opened_with = signal.getsignal(signal.SIGINT)
            _windows.append(self)
        return self

    def __exit__(self, *exc) -> None:
        if self in _windows:
            _windows.remove(self)
        if self.held and self._opened_with is not None:
            signal.signal(signal.SIGINT, self._opened_with)


_windows: list[CommitWindow] = []


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def swap_in(client, db: DatabaseSettings, staging: str, target_exists: bool,
            provenance: Provenance | None = None, table: str | None = None,
            last_check: Callable[[], None] | None = None) -> None:
    """Make `staging` the table `table` (default db.table), carrying `provenance`.
    Ctrl-C is held (recorded, not raised) from here on: until the swap is done, or, inside
    a CommitWindow, until the window closes. last_check() runs first, already held: it may
    still raise to abort (a cancel flag an earlier Ctrl-C set). Afterwards the staging name
    holds the OLD rows (or nothing): the caller drops it."""
    name = f"`{db.database}`.`{staging}`"
    target = f"`{db.database}`.`{table or db.table}`"
    got: list[int] = []
    window = _windows[-1] if _windows and _main_thread() else None
    if window is not None:
        got = window.got
    previous = signal.signal(signal.SIGINT, lambda s, f: got.append(s)) if _main_thread() else None
    try:
        if last_check is not None:
            last_check()
        if provenance is not None:
            client.command(f"ALTER TABLE {name} MODIFY COMMENT {comment_sql(provenance)}")
        test_point("swap")
        _exchange(client, db, name, target, target_exists)
        test_point("swapped")
    except BaseException:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        raise
    if window is not None:
        window.held = True          # the window restores the handler when it closes
    elif previous is not None:
        signal.signal(signal.SIGINT, previous)


def _exchange(client, db: DatabaseSettings, name: str, target: str, target_exists: bool) -> None:
    if not target_exists:
        client.command(f"RENAME TABLE {name} TO {target}")
        return
    try:
        client.command(f"EXCHANGE TABLES {name} AND {target}")
    except Exception:
        # EXCHANGE needs an Atomic database (the default engine); an Ordinary database
        # gets one RENAME of both tables instead (the comment travels with the table).
        old = f"{name[:-1]}_old`"
        client.command(f"DROP TABLE IF EXISTS {old} SYNC")
        client.command(f"RENAME TABLE {target} TO {old}, {name} TO {target}")
        client.command(f"DROP TABLE IF EXISTS {old} SYNC")
