"""The signature table's documented schema (reference doc §5): create it, check it.

Identifiers (database, table) come from settings, where they are validated as plain
identifiers and back-quoted by `db.qualified_table`; values are always bound parameters.
"""

from __future__ import annotations

import re

from engine.data.client import missing_table_error, translating, where
from engine.errors import DataError
from engine.settings import DatabaseSettings

# Column -> ClickHouse type, in table order, as documented for wspr.signatures_v2_terrestrial.
SCHEMA: dict[str, str] = {
    "tx_grid_4": "FixedString(4)",
    "rx_grid_4": "FixedString(4)",
    "band": "Int32",
    "hour": "UInt8",
    "month": "UInt8",
    "median_snr": "Float32",
    "spot_count": "UInt32",
    "snr_std": "Float32",
    "reliability": "Float32",
    "avg_sfi": "Float32",
    "avg_kp": "Float32",
    "avg_distance": "UInt32",
    "avg_azimuth": "UInt16",
}
ORDER_BY = ("band", "hour", "tx_grid_4", "rx_grid_4")

# Columns the loader reads; the others are documented but not needed for training.
LOADER_COLUMNS = ("tx_grid_4", "rx_grid_4", "band", "hour", "month", "median_snr",
                  "spot_count", "avg_sfi", "avg_kp")

_NUMERIC = re.compile(r"^(U?Int(8|16|32|64)|Float(32|64))$")
_GRID = re.compile(r"^(FixedString\(4\)|String)$")
_WRAPPER = re.compile(r"^(Nullable|LowCardinality)\((.*)\)$")


def create_table_sql(db: DatabaseSettings, table: str | None = None) -> str:
    """CREATE TABLE for the documented schema; `table` overrides the name (staging tables)."""
    name = db.qualified_table if table is None else f"`{db.database}`.`{table}`"
    cols = ",\n  ".join(f"`{c}` {t}" for c, t in SCHEMA.items())
    return (f"CREATE TABLE IF NOT EXISTS {name} (\n  {cols}\n) ENGINE = MergeTree "
            f"ORDER BY ({', '.join(ORDER_BY)})")


def ensure_table(client, db: DatabaseSettings) -> None:
    """Create the database and the signature table if they are missing (no-op otherwise)."""
    with translating(db):
        client.command(f"CREATE DATABASE IF NOT EXISTS `{db.database}`")
        client.command(create_table_sql(db))


def table_columns(client, db: DatabaseSettings) -> dict[str, str]:
    """Column -> type of the configured table; {} when the table does not exist."""
    with translating(db):
        rows = client.query(
            "SELECT name, type FROM system.columns WHERE database = {d:String} AND table = {t:String} "
            "ORDER BY position", parameters={"d": db.database, "t": db.table}).result_rows
    return {name: typ for name, typ in rows}


def table_exists(client, db: DatabaseSettings, table: str | None = None) -> bool:
    """Is there a table `table` (default: db.table) in db.database? The one place that asks."""
    with translating(db):
        return bool(client.query("SELECT count() FROM system.tables WHERE database = {d:String} "
                                 "AND name = {t:String}",
                                 parameters={"d": db.database, "t": table or db.table}
                                 ).result_rows[0][0])


def database_exists(client, db: DatabaseSettings) -> bool:
    with translating(db):
        return bool(client.query("SELECT count() FROM system.databases WHERE name = {d:String}",
                                 parameters={"d": db.database}).result_rows[0][0])


def _base_type(typ: str) -> str:
    m = _WRAPPER.match(typ)
    while m:
        typ = m.group(2)
        m = _WRAPPER.match(typ)
    return typ


def _compatible(column: str, typ: str) -> bool:
    # The loader converts every value to float32 in SQL and filters NULL/NaN, so any integer
    # or float type (nullable or not) works for numbers; grids need 4-byte strings.
    base = _base_type(typ)
    return bool(_GRID.match(base) if column.endswith("_grid_4") else _NUMERIC.match(base))


def check_schema(client, db: DatabaseSettings) -> dict[str, str]:
    """Raise DataError if the table is missing or a column cannot be used; return its columns.

    Loader columns must exist; every documented column present must have a usable type.
    Types that differ from the documented ones but convert cleanly (Float64, Nullable...)
    are accepted."""
    cols = table_columns(client, db)
    if not cols:
        raise missing_table_error(db, database_missing=not database_exists(client, db))
    problems = [f"{c} is missing (expected {SCHEMA[c]})" for c in LOADER_COLUMNS if c not in cols]
    problems += [f"{c} is {cols[c]} (expected {SCHEMA[c]})"
                 for c in SCHEMA if c in cols and not _compatible(c, cols[c])]
    if problems:
        raise DataError(f"{where(db)}: table {db.database}.{db.table} does not match the signature "
                        f"schema: " + "; ".join(problems) + " (check database.table)",
                        setting="database.table")
    return cols
