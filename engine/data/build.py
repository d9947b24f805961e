"""`data build`: raw spots + space weather -> the signature table, in ClickHouse.

One SQL statement per step: count what the filters drop (the report), aggregate into a
staging table, swap it in with its provenance (engine.data.swap, engine.data.provenance).
A failed or empty build leaves the old signature table as it was. A table that `data build`
did not write (demo, imported, foreign) is only replaced with force.

Public for other commands (evaluate): `spot_rows_sql` gives one row per spot with its
4-char grids and their centres, ADIF band, hour/month/day of year, SNR, power, distance,
azimuth, and the SFI (observed F10.7 of the spot's UTC day) and Kp (of its 3-hour block)
joined exactly as the build joins them; `spot_filter_sql` is the build's filter.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.data.client import translating
from engine.data.provenance import Provenance, guard_replace
from engine.data.schema import create_table_sql
from engine.data.spot_sql import grid4_sql, grid_latlon_sql
from engine.data.swap import staging_name, swap_in
from engine.errors import DataError, InputError
from engine.settings import DatabaseSettings

MIN_DISTANCE_KM = 500        # reference doc section 5
MAX_DISTANCE_KM = 20_040     # half the Earth's circumference: longer is a bad grid
SNR_RANGE = (-40, 30)        # WSPR decodes to about -34 dB; stronger than +30 is not real
RELIABLE_DB = -20            # reliability = share of spots above this
MOVING_GRIDS_PER_DAY = 3     # a TX call seen in this many 4-char grids on one UTC day moves
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def spot_rows_sql(db: DatabaseSettings, spots_table: str, sw_table: str) -> str:
    """SELECT: one row per raw spot with the model's inputs and the joined space weather.
    sfi, sfi_adj and kp are NULL for a spot whose UTC day the space-weather table lacks."""
    s, w = f"`{db.database}`.`{spots_table}`", f"`{db.database}`.`{sw_table}`"
    tx_lat, tx_lon = grid_latlon_sql("tx_grid_4")
    rx_lat, rx_lon = grid_latlon_sql("rx_grid_4")
    return (
        f"SELECT s.time AS time, s.tx_sign AS tx_sign, s.rx_sign AS rx_sign, "
        f"toFixedString({grid4_sql('s.tx_loc')}, 4) AS tx_grid_4, "
        f"toFixedString({grid4_sql('s.rx_loc')}, 4) AS rx_grid_4, "
        f"{tx_lat} AS tx_lat, {tx_lon} AS tx_lon, {rx_lat} AS rx_lat, {rx_lon} AS rx_lon, "
        f"s.band AS band, toHour(s.time) AS hour, toMonth(s.time) AS month, "
        f"toDayOfYear(s.time) AS doy, s.snr AS snr, s.power_dbm AS power_dbm, "
        f"s.distance_km AS distance_km, s.azimuth AS azimuth, "
        f"if(w.covered = 1, w.f107_obs, NULL) AS sfi, "
        f"if(w.covered = 1, w.f107_adj, NULL) AS sfi_adj, "
        f"if(w.covered = 1, w.kp[intDiv(toHour(s.time), 3) + 1], NULL) AS kp "
        f"FROM {s} AS s LEFT JOIN {w} AS w ON w.date = toDate(s.time)")


def month_bounds(first: str | None, last: str | None) -> tuple[str | None, str | None]:
    """'YYYY-MM' -> first day of that month / first day after `last`; InputError if bad."""
    out = []
    for flag, text, after in (("--from", first, False), ("--to", last, True)):
        if text is None:
            out.append(None)
            continue
        m = _MONTH.match(text)
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise InputError(f"{flag} {text!r}: use YYYY-MM, e.g. 2023-02")
        y, mo = int(m.group(1)), int(m.group(2))
        if after:
            y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
        out.append(f"{y:04d}-{mo:02d}-01")
    if out[0] and out[1] and out[0] >= out[1]:
        raise InputError(f"--from {first} is after --to {last}")
    return out[0], out[1]


def spot_filter_sql(db: DatabaseSettings, spots_table: str, start: str | None = None,
                    end: str | None = None) -> dict[str, str]:
    """The build's filters over spot_rows_sql columns, name -> condition (all must hold)."""
    s = f"`{db.database}`.`{spots_table}`"
    lo, hi = SNR_RANGE
    out = {
        "hf_band": "band BETWEEN 102 AND 111",
        "distance": f"distance_km BETWEEN {MIN_DISTANCE_KM} AND {MAX_DISTANCE_KM}",
        "snr": f"snr BETWEEN {lo} AND {hi}",
        "moving_tx": f"(tx_sign, toDate(time)) NOT IN (SELECT tx_sign, toDate(time) FROM {s} "
                     f"GROUP BY tx_sign, toDate(time) "
                     f"HAVING uniqExact({grid4_sql('tx_loc')}) >= {MOVING_GRIDS_PER_DAY})",
        "space_weather": "sfi IS NOT NULL AND kp IS NOT NULL",
    }
    if start:
        out["from"] = f"time >= toDateTime('{start}', 'UTC')"
    if end:
        out["to"] = f"time < toDateTime('{end}', 'UTC')"
    return out


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

    def as_dict(self) -> dict:
        return dict(vars(self), seconds=round(self.seconds, 3))


def _report_sql(rows: str, filters: dict[str, str]) -> str:
    span = " AND ".join(filters[k] for k in ("from", "to") if k in filters) or "1"
    checks = [k for k in filters if k not in ("from", "to")]
    each = ", ".join(f"countIf(({span}) AND NOT ({filters[k]}))" for k in checks)
    allf = " AND ".join(f"({v})" for v in filters.values())
    return (f"SELECT count(), countIf({span}), {each}, countIf({allf}), "
            f"minIf(time, {allf}), maxIf(time, {allf}) FROM ({rows})")


# Buckets keep space weather resolved: one signature per Kp class and SFI class as well (the
# same classes as the demo seeder, engine.demo.seed.KP_CLASS_EDGES / SFI_CLASS_EDGES; a test
# checks). Averaging Kp over a whole bucket squeezes it towards 2 and starves the storm sidecar
# (the original's defect); averaging SFI over days of many years squeezes it the same way.
KP_CLASS_EDGES = (0.0, 2.0, 3.0, 4.0, 5.0)
SFI_CLASS_EDGES = (0.0, 80.0, 110.0, 150.0)


def class_sql(column: str, edges: tuple[float, ...]) -> str:
    """SQL for the class (0..len(edges)-1) of each spot's value: the same as numpy's
    searchsorted(edges[1:], value, side="right") in the seeder."""
    return "multiIf(" + ", ".join(f"{column} < {e:g}, {i}" for i, e in enumerate(edges[1:])) \
        + f", {len(edges) - 1})"


KP_CLASS_SQL = class_sql("kp", KP_CLASS_EDGES)
SFI_CLASS_SQL = class_sql("sfi", SFI_CLASS_EDGES)


def _aggregate_sql(rows: str, filters: dict[str, str], min_spots: int) -> str:
    allf = " AND ".join(f"({v})" for v in filters.values())
    return (
        f"SELECT tx_grid_4, rx_grid_4, band, hour, month, toFloat32(median(snr)), "
        f"toUInt32(count()), toFloat32(stddevPop(snr)), "
        f"toFloat32(countIf(snr > {RELIABLE_DB}) / count()), toFloat32(avg(sfi)), "
        f"toFloat32(avg(kp)), toUInt32(round(avg(distance_km))), "
        # mean direction, not mean of degrees (350 and 10 average to 0, not 180)
        f"toUInt16(round(if(countIf(azimuth IS NOT NULL) = 0, 0, (degrees(atan2("
        f"avg(sin(radians(azimuth))), avg(cos(radians(azimuth))))) + 360) % 360)) % 360) "
        f"FROM ({rows}) WHERE {allf} "
        f"GROUP BY tx_grid_4, rx_grid_4, band, hour, month, {KP_CLASS_SQL}, {SFI_CLASS_SQL} "
        f"HAVING count() >= {min_spots}")


def build_signatures(client, db: DatabaseSettings, *, spots_table: str, sw_table: str,
                     first: str | None = None, last: str | None = None, min_spots: int = 5,
                     progress: Callable[[int, int], None] | None = None,
                     force: bool = False) -> BuildReport:
    """Aggregate the spots into `db.table` (replaced atomically, with its provenance); raise
    InputError if nothing would be built (the old table stays), DataError if the table holds
    rows `data build` did not write and not force. progress(step, 3) after each step."""
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
            "spots_used": report.used, "signatures": n, "min_spots": min_spots,
            "kp_class_edges": list(KP_CLASS_EDGES), "sfi_class_edges": list(SFI_CLASS_EDGES),
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
            client.command(f"INSERT INTO {name} {_aggregate_sql(rows, filters, min_spots)}")
            n = int(client.query(f"SELECT count() FROM {name}").result_rows[0][0])
            if n:
                swap_in(client, db, staging, _exists(client, db, db.table), provenance(report, n))
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


def _exists(client, db: DatabaseSettings, table: str) -> bool:
    return bool(client.query("SELECT count() FROM system.tables WHERE database = {d:String} "
                             "AND name = {t:String}",
                             parameters={"d": db.database, "t": table}).result_rows[0][0])


def _require(client, db: DatabaseSettings, table: str, what: str, hint: str) -> None:
    with translating(db):
        ok = _exists(client, db, table) and client.query(
            f"SELECT count() FROM `{db.database}`.`{table}`").result_rows[0][0] > 0
    if not ok:
        raise DataError(f"{what} {db.database}.{table} is missing or empty: {hint}")
