"""Atomic replacement of a table: build under a staging name, then swap it in.

Every writer of a whole table (demo seeding, the signature build from spots, the bundle
import) fills a staging table and calls `swap_in`; a cancel or an error before the swap
leaves the old table untouched, never half-written."""

from __future__ import annotations

from engine.settings import DatabaseSettings


def staging_name(db: DatabaseSettings, suffix: str) -> str:
    """`<table>__<suffix>`, or `ionis_<suffix>` when that would pass ClickHouse's name limit."""
    name = f"{db.table}__{suffix}"
    return name if len(name) <= 128 else f"ionis_{suffix}"


def swap_in(client, db: DatabaseSettings, staging: str, target_exists: bool) -> None:
    """Make `staging` the configured table. Afterwards the staging name holds the OLD rows
    (or nothing): the caller drops it."""
    name = f"`{db.database}`.`{staging}`"
    if not target_exists:
        client.command(f"RENAME TABLE {name} TO {db.qualified_table}")
        return
    try:
        client.command(f"EXCHANGE TABLES {name} AND {db.qualified_table}")
    except Exception:
        # EXCHANGE needs an Atomic database (the default engine); an Ordinary database
        # gets two quick renames instead.
        old = f"`{db.database}`.`{staging}_old`"
        client.command(f"DROP TABLE IF EXISTS {old} SYNC")
        client.command(f"RENAME TABLE {db.qualified_table} TO {old}, {name} TO {db.qualified_table}")
        client.command(f"DROP TABLE IF EXISTS {old} SYNC")
