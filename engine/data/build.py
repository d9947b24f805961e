"""`data build`: raw spots + space weather -> the signature table, in ClickHouse.

One SQL statement per step: count what the filters drop (the report), aggregate into a
staging table, swap it in with its provenance (engine.data.swap, engine.data.provenance).
A failed or empty build leaves the old signature table as it was. A table that `data build`
did not write (demo, imported, foreign) is only replaced with force.

The rows, filters and aggregation are engine.data.aggregation's, the same ones `evaluate`
and the demo seeder use; the report carries their parameters (`rules`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.data.aggregation import (
    month_bounds,
    rules,
    signatures_sql,
    spot_filter_sql,
    spot_rows_sql,
)
from engine.data.client import translating
from engine.data.provenance import Provenance, guard_replace
from engine.data.schema import create_table_sql, table_exists
from engine.data.swap import staging_name, swap_in
from engine.data.write_lock import write_lock
from engine.errors import DataError, InputError
from engine.settings import DatabaseSettings


@dataclass
class BuildReport:
    table: str
    spots: int               # spots in the spots table
    in_span: int             # within --from/--to
    dropped: dict[str, int]  # filter -> spots failing it (a spot may fail several)
    used: int                # spots passing every filter
    signatures: int          # rows written (groups with >= min_spots)
    first_spot: str | None
    last_spot: str | None
    seconds: float
    rules: dict = field(default_factory=dict)  # the aggregation's parameters

    def as_dict(self) -> dict:
        return dict(vars(self), seconds=round(self.seconds, 3))


def _report_sql(rows: str, filters: dict[str, str]) -> str:
    span = " AND ".join(filters[k] for k in ("from", "to") if k in filters) or "1"
    checks = [k for k in filters if k not in ("from", "to")]
    each = ", ".join(f"countIf(({span}) AND NOT ({filters[k]}))" for k in checks)
    allf = " AND ".join(f"({v})" for v in filters.values())
    return (f"SELECT count(), countIf({span}), {each}, countIf({allf}), "
            f"minIf(time, {allf}), maxIf(time, {allf}) FROM ({rows})")


def build_signatures(client, db: DatabaseSettings, *, spots_table: str, sw_table: str,
                     first: str | None = None, last: str | None = None, min_spots: int = 5,
                     progress: Callable[[int, int], None] | None = None,
                     force: bool = False) -> BuildReport:
    """Aggregate the spots into `db.table` (replaced atomically, with its provenance); raise
    InputError if nothing would be built (the old table stays), DataError if the table holds
    rows `data build` did not write and not force. progress(step, 3) after each step."""
    with write_lock(client, db, db.table, "data build"):
        return _build(client, db, spots_table, sw_table, first, last, min_spots, progress, force)


def _build(client, db: DatabaseSettings, spots_table: str, sw_table: str, first: str | None,
           last: str | None, min_spots: int, progress: Callable[[int, int], None] | None,
           force: bool) -> BuildReport:
    step = progress or (lambda done, total: None)
    t0 = time.perf_counter()
    start, end = month_bounds(first, last)
    if min_spots < 1:
        raise InputError(f"--min-spots must be >= 1, got {min_spots}")
    _require(client, db, spots_table, "spots table", "run `ionis-tui data ingest FILE` first")
    _require(client, db, sw_table, "space-weather table", "run `ionis-tui data sw` first")
    guard_replace(client, db, ("spots",), force, "`data build`")
    rows = spot_rows_sql(db, spots_table, sw_table)
    filters = spot_filter_sql(db, spots_table, start, end)
    step(0, 3)
    with translating(db):
        r = client.query(_report_sql(rows, filters)).result_rows[0]
    step(1, 3)
    checks = [k for k in filters if k not in ("from", "to")]
    report = BuildReport(f"{db.database}.{db.table}", int(r[0]), int(r[1]),
                         {k: int(v) for k, v in zip(checks, r[2:2 + len(checks)], strict=True)},
                         int(r[2 + len(checks)]), 0, None, None, 0.0)
    if report.used:
        report.first_spot, report.last_spot = (str(r[3 + len(checks)]), str(r[4 + len(checks)]))
    report.rules = rules(min_spots)
    report.signatures = _write(client, db, rows, filters, min_spots, report,
                               _provenance(db, spots_table, sw_table, first, last, min_spots))
    step(2, 3)
    report.seconds = time.perf_counter() - t0
    step(3, 3)
    return report


def _provenance(db: DatabaseSettings, spots_table: str, sw_table: str, first: str | None,
                last: str | None, min_spots: int) -> Callable[[BuildReport, int], Provenance]:
    def make(report: BuildReport, n: int) -> Provenance:
        return Provenance("spots", {
            "spots_table": f"{db.database}.{spots_table}",
            "space_weather_table": f"{db.database}.{sw_table}", "from": first, "to": last,
            "first_spot": report.first_spot, "last_spot": report.last_spot,
            "spots_used": report.used, "signatures": n, "rules": rules(min_spots),
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    return make


def _write(client, db: DatabaseSettings, rows: str, filters: dict[str, str], min_spots: int,
           report: BuildReport, provenance: Callable[[BuildReport, int], Provenance]) -> int:
    staging = staging_name(db, "build")
    name = f"`{db.database}`.`{staging}`"
    try:
        with translating(db):
            client.command(f"DROP TABLE IF EXISTS {name} SYNC")
            client.command(create_table_sql(db, staging))
            client.command(f"INSERT INTO {name} {signatures_sql(rows, filters, min_spots)}")
            n = int(client.query(f"SELECT count() FROM {name}").result_rows[0][0])
            if n:
                swap_in(client, db, staging, table_exists(client, db), provenance(report, n))
    finally:
        with translating(db):
            client.command(f"DROP TABLE IF EXISTS {name} SYNC")
    if n == 0:
        dropped = ", ".join(f"{k} {v:,}" for k, v in report.dropped.items() if v) or "none"
        raise InputError(
            f"no signatures: {report.in_span:,} of {report.spots:,} spots fall in the chosen "
            f"months, {report.used:,} pass the filters (dropped: {dropped}), and no (path, band, "
            f"hour, month) has {min_spots} of them; {report.table} is unchanged")
    return n


def _require(client, db: DatabaseSettings, table: str, what: str, hint: str) -> None:
    with translating(db):
        ok = table_exists(client, db, table) and client.query(
            f"SELECT count() FROM `{db.database}`.`{table}`").result_rows[0][0] > 0
    if not ok:
        raise DataError(f"{what} {db.database}.{table} is missing or empty: {hint}")
