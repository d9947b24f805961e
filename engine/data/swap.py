"""Atomic replacement of a table: build under a staging name, then swap it in.

Every writer of a whole table (demo seeding, the signature build from spots, the bundle
import, the spot ingest) fills a staging table and calls `swap_in`; a cancel, an error or a
kill before the swap leaves the old table untouched, never half-written. A signature table's
provenance (engine.data.provenance) is set on the staging table first, so the one swap
changes rows and provenance together.

Ctrl-C (SIGINT) is held from just before the swap until the caller has finished: an
interrupt that comes after the point of no return cannot make a command say "interrupted,
nothing changed" over a table it has replaced. `swap_in` says whether one came (late)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from engine.data.provenance import Provenance, comment_sql
from engine.settings import DatabaseSettings

TEST_SIGNAL_ENV = "IONIS_TEST_SIGNAL"  # tests only: "<point>:<INT|KILL>", see test_point


def test_point(name: str) -> None:
    """Tests only: with IONIS_TEST_SIGNAL=<name>:<INT|KILL> this process sends itself that
    signal here, so the tests hit "right after the swap" with real signals, every time."""
    point, _, sig = os.environ.get(TEST_SIGNAL_ENV, "").partition(":")
    if point == name:
        os.kill(os.getpid(), getattr(signal, f"SIG{sig}"))


def staging_name(db: DatabaseSettings, suffix: str) -> str:
    """`<table>__<suffix>`, or `ionis_<suffix>` when that would pass ClickHouse's name limit."""
    name = f"{db.table}__{suffix}"
    return name if len(name) <= 128 else f"ionis_{suffix}"


@contextmanager
def held_interrupts() -> Iterator[list[int]]:
    """SIGINT is recorded, not raised, inside the block (main thread only; elsewhere Python
    delivers no signals anyway). The list holds the signals that came."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    try:
        yield got
    finally:
        signal.signal(signal.SIGINT, previous)


def swap_in(client, db: DatabaseSettings, staging: str, target_exists: bool,
            provenance: Provenance | None = None, table: str | None = None,
            last_check: Callable[[], None] | None = None) -> bool:
    """Make `staging` the table `table` (default db.table), carrying `provenance`.
    last_check() runs first, with Ctrl-C already held: it may still raise to abort (a
    cancel flag set by an earlier Ctrl-C). Afterwards the staging name holds the OLD rows
    (or nothing): the caller drops it. True when a Ctrl-C came during the swap (late: the
    new table is in place)."""
    name = f"`{db.database}`.`{staging}`"
    target = f"`{db.database}`.`{table or db.table}`"
    with held_interrupts() as got:
        if last_check is not None:
            last_check()
        if provenance is not None:
            client.command(f"ALTER TABLE {name} MODIFY COMMENT {comment_sql(provenance)}")
        test_point("swap")
        _exchange(client, db, name, target, target_exists)
        test_point("swapped")
    return bool(got)


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
