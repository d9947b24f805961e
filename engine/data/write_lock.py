"""One writer per table: every command that replaces or adds to a table holds its lock.

Two writers of one table at once (two users of one server; the app's `b` while a shell runs
`data build`) would share the staging tables, and the later swap would replace the table the
earlier one had just put in place: one command's rows lost. The lock is a table
`<table>__lock`, created without IF NOT EXISTS, so the server lets exactly one CREATE succeed.
Its comment says who holds it (command, host, pid, since): a lock left by a command killed on
this host is taken over, one held elsewhere is named in the error, with the way to clear it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from engine.data.client import translating
from engine.errors import DataError
from engine.settings import DatabaseSettings

TABLE_ALREADY_EXISTS = 57  # ClickHouse's error code


def lock_table(table: str) -> str:
    name = f"{table}__lock"
    return name if len(name) <= 128 else f"ionis_lock_{hashlib.sha1(table.encode()).hexdigest()[:16]}"


@contextmanager
def write_lock(client, db: DatabaseSettings, table: str, command: str) -> Iterator[None]:
    """Hold the lock of `db.database`.`table` for the block; DataError naming the holder when
    another live command has it. Released however the block ends (a kill -9 leaves it, and
    the next writer on this host sees its process gone)."""
    name = f"`{db.database}`.`{lock_table(table)}`"
    me = {"command": command, "host": socket.gethostname(), "pid": os.getpid(),
          "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    with translating(db):
        client.command(f"CREATE DATABASE IF NOT EXISTS `{db.database}`")
    _take(client, db, name, table, me)
    try:
        yield
    finally:
        with translating(db):
            client.command(f"DROP TABLE IF EXISTS {name} SYNC")


def _take(client, db: DatabaseSettings, name: str, table: str, me: dict) -> None:
    for _ in range(2):  # a second try after clearing a dead holder's lock
        if _create(client, db, name, me):
            return
        held = holder(client, db, table)
        if held is None:  # released between our CREATE and our look
            continue
        if not _is_dead(held):
            raise DataError(
                f"{db.database}.{table} is being written by `{held.get('command', '?')}` (pid "
                f"{held.get('pid', '?')} on {held.get('host', '?')}, since {held.get('since', '?')}): "
                f"wait for it to finish; if that process is gone, drop table "
                f"{db.database}.{lock_table(table)}")
        with translating(db):
            client.command(f"DROP TABLE IF EXISTS {name} SYNC")
    raise DataError(f"could not take the write lock of {db.database}.{table}: another command "
                    f"keeps taking it; try again")


def _create(client, db: DatabaseSettings, name: str, me: dict) -> bool:
    text = json.dumps(me).replace("\\", "\\\\").replace("'", "\\'")
    try:
        client.command(f"CREATE TABLE {name} (held UInt8) ENGINE = Memory COMMENT '{text}'")
        return True
    except Exception as exc:
        if getattr(exc, "code", None) == TABLE_ALREADY_EXISTS:
            return False
        with translating(db):
            raise


def holder(client, db: DatabaseSettings, table: str) -> dict | None:
    """Who holds the write lock of `table` (command, host, pid, since), None when free."""
    return holders(client, db, [table]).get(table)


def holders(client, db: DatabaseSettings, tables) -> dict[str, dict]:
    """table -> its lock's holder, for those of `tables` being written now (one query)."""
    by_lock = {lock_table(t): t for t in tables}
    with translating(db):
        rows = client.query("SELECT name, comment FROM system.tables WHERE database = {d:String} "
                            "AND name IN {n:Array(String)}",
                            parameters={"d": db.database, "n": list(by_lock)}).result_rows
    return {by_lock[name]: _parse(comment) for name, comment in rows}


def _parse(comment: str | None) -> dict:
    try:
        held = json.loads(comment or "")
    except ValueError:
        return {}
    return held if isinstance(held, dict) else {}


def _is_dead(held: dict) -> bool:
    """Only a holder on this host can be known dead: its pid no longer runs."""
    pid = held.get("pid")
    if held.get("host") != socket.gethostname() or not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # runs, as another user
        return False
    return False
