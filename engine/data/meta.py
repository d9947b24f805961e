"""A tiny metadata table beside the signatures: who wrote a table, from what, and when.

The signature schema has no dates (only month), so the demo seeder records here the span of
real space-weather days it sampled, its seed and row count; `data status` reports it.
One JSON document per (table, key); the latest write wins.
"""

from __future__ import annotations

import json
from typing import Any

from engine.data.client import translating
from engine.settings import DatabaseSettings

META_TABLE = "ionis_meta"


def _name(db: DatabaseSettings) -> str:
    return f"`{db.database}`.`{META_TABLE}`"


def write_meta(client, db: DatabaseSettings, key: str, value: dict[str, Any]) -> None:
    with translating(db):
        client.command(f"CREATE DATABASE IF NOT EXISTS `{db.database}`")
        client.command(f"CREATE TABLE IF NOT EXISTS {_name(db)} (table_name String, key String, "
                       f"value String, written_at DateTime64(6) DEFAULT now64(6)) "
                       f"ENGINE = MergeTree ORDER BY (table_name, key)")
        client.command(f"INSERT INTO {_name(db)} (table_name, key, value) "
                       f"VALUES ({{t:String}}, {{k:String}}, {{v:String}})",
                       parameters={"t": db.table, "k": key, "v": json.dumps(value)})


def read_meta(client, db: DatabaseSettings, key: str) -> dict[str, Any] | None:
    """The latest document for (configured table, key); None when there is none."""
    with translating(db):
        exists = client.query("SELECT count() FROM system.tables WHERE database = {d:String} "
                              "AND name = {n:String}",
                              parameters={"d": db.database, "n": META_TABLE}).result_rows[0][0]
        if not exists:
            return None
        rows = client.query(f"SELECT argMax(value, written_at) FROM {_name(db)} "
                            f"WHERE table_name = {{t:String}} AND key = {{k:String}} "
                            f"HAVING count() > 0",
                            parameters={"t": db.table, "k": key}).result_rows
    if not rows:
        return None
    try:
        return json.loads(rows[0][0])
    except ValueError:  # someone else's row under our key: treat as absent
        return None
