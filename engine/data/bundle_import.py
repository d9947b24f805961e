"""Import the published IONIS signature bundle (SQLite) into the signature table.

The engine does the work: ClickHouse's `SQLite` table engine reads the file and one
`INSERT ... SELECT` per chunk of rowids writes it; Python only sends SQL and reads counts.
Each row gets a reject code in SQL (first failing check, in REASONS order); the insert goes
into a `Null` table with two materialized views: one writes the good rows, converted to the
documented schema, into a staging table, the other counts rows per reject code. So the
file is read once, bad rows are counted by reason, and nothing reaches the trainer that it
must not see. The staging table is swapped in atomically at the end (engine.data.swap):
an error or a cancel leaves the old table untouched.

The helper objects (SQLite views, Null table, views, counts) live in a scratch database
with the Memory engine: nothing of them persists if the process dies mid-import.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.bands import hf_band_sql
from engine.data.aggregation import MAX_DISTANCE_KM
from engine.data.bundle_file import BundleInfo
from engine.data.client import translating
from engine.data.loader import SFI_LIMIT, SNR_DB_LIMIT
from engine.data.provenance import Provenance, guard_replace, read_provenance
from engine.data.schema import SCHEMA, create_table_sql
from engine.data.swap import staging_name, swap_in
from engine.data.write_lock import write_lock
from engine.errors import DataError, InputError
from engine.grids import valid_sql
from engine.settings import DatabaseSettings

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]

CHUNK_ROWS = 500_000  # rowids per reader per INSERT: bounds memory, sets progress/cancel steps
# A WSPR bundle's median SNR averages about -18 dB (per-band means -17.3 .. -18.8, sd ~6.7);
# a mean outside this window means another SNR scale (RBN/contest/PSKR), not WSPR.
WSPR_MEAN_SNR_WINDOW = (-28.0, -8.0)

_NUMERIC = [c for c in SCHEMA if not c.endswith("_grid_4")]


def _whole(c: str, lo: int, hi: int) -> str:
    return f"NOT ({c} BETWEEN {lo} AND {hi} AND {c} = floor({c}))"


# Reason -> SQL that is true for a row the trainer must not see. Checked in this order; a
# row is counted under the first reason it fails. Source columns are the file's values as
# Nullable(String) grids and Nullable(Float64) numbers.
REASONS: dict[str, str] = {
    "null": " OR ".join(f"isNull({c})" for c in SCHEMA),
    "non_finite": " OR ".join(f"NOT isFinite({c})" for c in _NUMERIC),
    "grid": f"NOT ({valid_sql('tx_grid_4')} AND {valid_sql('rx_grid_4')})",
    "band": f"NOT ({hf_band_sql()})",
    "hour": _whole("hour", 0, 23),
    "month": _whole("month", 1, 12),
    "spot_count": _whole("spot_count", 1, 2**32 - 1),
    "sfi_zero": "avg_sfi = 0",  # the original's zero-filled solar defect
    # the loader's physical bounds too (engine.data.loader), so every row kept is one a run uses
    "out_of_range": (f"avg_sfi < 0 OR avg_sfi > {SFI_LIMIT} OR abs(median_snr) > {SNR_DB_LIMIT} "
                     f"OR NOT (avg_kp BETWEEN 0 AND 9) OR snr_std < 0 "
                     f"OR NOT (reliability BETWEEN 0 AND 1) "
                     f"OR NOT (avg_distance BETWEEN 0 AND {MAX_DISTANCE_KM}) "
                     f"OR NOT (avg_azimuth BETWEEN 0 AND 360)"),
}
_REJECT = ("multiIf(" + ", ".join(f"{cond}, {i}" for i, cond in enumerate(REASONS.values(), 1))
           + ", 0)")

# Good row -> the documented schema (reads the Null table's s_* columns).
_CONVERT = {
    "tx_grid_4": "toFixedString(upper(assumeNotNull(s_tx_grid_4)), 4)",
    "rx_grid_4": "toFixedString(upper(assumeNotNull(s_rx_grid_4)), 4)",
    "band": "toInt32(assumeNotNull(s_band))",
    "hour": "toUInt8(assumeNotNull(s_hour))",
    "month": "toUInt8(assumeNotNull(s_month))",
    "median_snr": "toFloat32(assumeNotNull(s_median_snr))",
    "spot_count": "toUInt32(assumeNotNull(s_spot_count))",
    "snr_std": "toFloat32(assumeNotNull(s_snr_std))",
    "reliability": "toFloat32(assumeNotNull(s_reliability))",
    "avg_sfi": "toFloat32(assumeNotNull(s_avg_sfi))",
    "avg_kp": "toFloat32(assumeNotNull(s_avg_kp))",
    "avg_distance": "toUInt32(round(assumeNotNull(s_avg_distance)))",
    "avg_azimuth": "toUInt16(toUInt32(round(assumeNotNull(s_avg_azimuth))) % 360)",
}


class ImportCancelled(DataError):
    """cancel() returned True: the import stopped and the old table is unchanged."""


@dataclass
class ImportReport:
    file: str
    from_table: str
    size: int
    table: str
    read: int = 0
    rows: int = 0                      # rows written (the new table's content)
    excluded: dict[str, int] = field(default_factory=dict)
    mean_snr_db: float | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "from_table": self.from_table, "size": self.size,
                "table": self.table, "read": self.read, "rows": self.rows,
                "excluded": self.excluded, "mean_snr_db": self.mean_snr_db,
                "seconds": round(self.seconds, 2),
                "rows_per_s": round(self.read / self.seconds, 1) if self.seconds else None}


def _lit(s: str) -> str:
    """A ClickHouse string literal."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def scratch_database(db: DatabaseSettings) -> str:
    h = hashlib.sha1(f"{db.database}.{db.table}".encode()).hexdigest()[:10]
    return f"ionis_import_{h}"


def default_streams() -> int:
    """Parallel readers of the file: SQLite decoding is single-threaded per connection."""
    return max(1, min(4, os.cpu_count() or 1))


def _setup(client, db: DatabaseSettings, info: BundleInfo, scratch: str, staging: str,
           streams: int) -> None:
    """Scratch database (Memory engine), SQLite readers, Null table, views, staging table."""
    sc = f"`{scratch}`"
    src_cols = ", ".join(f"`{c}` Nullable({'String' if c.endswith('_grid_4') else 'Float64'})"
                         for c in SCHEMA)
    rowid = "`rowid` Int64, " if info.rowid_min is not None else ""
    null_cols = ", ".join(f"`s_{c}` Nullable({'String' if c.endswith('_grid_4') else 'Float64'})"
                          for c in SCHEMA)
    good = ", ".join(f"{expr} AS `{c}`" for c, expr in _CONVERT.items())
    with translating(db):
        client.command(f"DROP DATABASE IF EXISTS {sc} SYNC")
        client.command(f"CREATE DATABASE {sc} ENGINE = Memory")
        # One SQLite connection per reader: each is its own table over the same file.
        for i in range(streams):
            client.command(f"CREATE TABLE {sc}.`sq{i}` ({rowid}{src_cols}) ENGINE = "
                           f"SQLite({_lit(str(info.path))}, {_lit(info.table)})")
        client.command(f"CREATE TABLE {sc}.`src` ({null_cols}, `reject` UInt8) ENGINE = Null")
        client.command(f"CREATE TABLE {sc}.`counts` (`reject` UInt8, `n` UInt64) ENGINE = Memory")
        client.command(f"CREATE DATABASE IF NOT EXISTS `{db.database}`")
        client.command(f"DROP TABLE IF EXISTS `{db.database}`.`{staging}` SYNC")
        client.command(create_table_sql(db, staging))
        client.command(f"CREATE MATERIALIZED VIEW {sc}.`mv_good` TO `{db.database}`.`{staging}` "
                       f"AS SELECT {good} FROM {sc}.`src` WHERE reject = 0")
        client.command(f"CREATE MATERIALIZED VIEW {sc}.`mv_counts` TO {sc}.`counts` "
                       f"AS SELECT reject, count() AS n FROM {sc}.`src` GROUP BY reject")


def _chunks(info: BundleInfo, streams: int) -> list[list[tuple[int, int]]]:
    """Per INSERT, one [lo, hi) rowid range per reader; one unbounded chunk without rowids."""
    if info.rowid_min is None or info.rowid_max is None:
        return [[]]
    out, lo = [], info.rowid_min
    while lo <= info.rowid_max:
        ranges = []
        for _ in range(streams):
            if lo > info.rowid_max:
                break
            ranges.append((lo, lo + CHUNK_ROWS))
            lo += CHUNK_ROWS
        out.append(ranges)
    return out


def _insert_sql(scratch: str, ranges: list[tuple[int, int]]) -> str:
    sc = f"`{scratch}`"
    cols = ", ".join(f"`{c}`" for c in SCHEMA)
    if ranges:
        parts = [f"SELECT {cols} FROM {sc}.`sq{i}` WHERE rowid >= {lo} AND rowid < {hi}"
                 for i, (lo, hi) in enumerate(ranges)]
    else:
        parts = [f"SELECT {cols} FROM {sc}.`sq0`"]
    targets = ", ".join(f"`s_{c}`" for c in SCHEMA)
    return (f"INSERT INTO {sc}.`src` ({targets}, `reject`) SELECT {cols}, {_REJECT} "
            f"FROM ({' UNION ALL '.join(parts)})")


def _counts(client, db: DatabaseSettings, scratch: str) -> dict[int, int]:
    with translating(db):
        rows = client.query(f"SELECT reject, sum(n) FROM `{scratch}`.`counts` GROUP BY reject"
                            ).result_rows
    return {int(r): int(n) for r, n in rows}


def _copy(client, db: DatabaseSettings, info: BundleInfo, scratch: str, streams: int,
          progress: Progress | None, cancel: Cancel | None) -> dict[int, int]:
    """Run the chunked INSERTs; return rows read per reject code (0 = kept)."""
    chunks = _chunks(info, streams)
    total = info.rowid_span
    done = 0
    if progress:
        progress(0, total)
    for ranges in chunks:
        if cancel is not None and cancel():
            raise ImportCancelled(f"import cancelled after {done:,} rows; "
                                  f"{db.database}.{db.table} is unchanged")
        with translating(db):
            client.command(_insert_sql(scratch, ranges))
        done = sum(_counts(client, db, scratch).values())
        if progress:
            progress(done, max(total, done))
    return _counts(client, db, scratch)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _check_result(info: BundleInfo, report: ImportReport) -> None:
    if report.read == 0:
        raise InputError(f"{info.path}: table {info.table!r} holds no rows")
    if report.rows == 0:
        why = ", ".join(f"{k} {v:,}" for k, v in report.excluded.items() if v)
        raise InputError(f"{info.path}: none of the {report.read:,} rows is usable ({why})")
    lo, hi = WSPR_MEAN_SNR_WINDOW
    if report.mean_snr_db is not None and not lo <= report.mean_snr_db <= hi:
        raise InputError(f"{info.path}: median_snr averages {report.mean_snr_db:+.1f} dB, WSPR "
                         f"signatures average about -18 dB: this is not a WSPR bundle (other "
                         f"sources use other SNR scales; the trainer's norms are WSPR's)")


def import_bundle(client, db: DatabaseSettings, info: BundleInfo, *,
                  progress: Progress | None = None, cancel: Cancel | None = None,
                  force: bool = False, streams: int | None = None) -> ImportReport:
    """Make the bundle's usable rows the content of db's table; return what was done.

    Bad rows are kept out and counted per REASONS key. Raises InputError for a file that
    cannot be used (no rows, nothing usable, not WSPR), ImportCancelled when cancel() turns
    True, DataError for database trouble; in every such case the old table is unchanged."""
    with write_lock(client, db, db.table, "data import"):
        return _import(client, db, info, progress, cancel, force, streams)


def _import(client, db: DatabaseSettings, info: BundleInfo, progress: Progress | None,
            cancel: Cancel | None, force: bool, streams: int | None) -> ImportReport:
    t0 = time.perf_counter()
    streams = max(1, int(streams or default_streams()))
    if info.rowid_min is None:
        streams = 1
    # Rows neither the demo seeder nor an earlier import wrote are only replaced with force.
    exists = guard_replace(client, db, ("demo", "bundle"), force, "`data import`") is not None
    scratch, staging = scratch_database(db), staging_name(db, "import")
    report = ImportReport(file=str(info.path), from_table=info.table, size=info.size,
                          table=f"{db.database}.{db.table}")
    try:
        _setup(client, db, info, scratch, staging, streams)
        counts = _copy(client, db, info, scratch, streams, progress, cancel)
        _drop(client, f"DROP DATABASE IF EXISTS `{scratch}` SYNC")  # views off before the swap
        report.read = sum(counts.values())
        report.excluded = {k: counts.get(i, 0) for i, k in enumerate(REASONS, 1)}
        name = f"`{db.database}`.`{staging}`"
        with translating(db):
            written, mean = client.query(f"SELECT count(), avg(median_snr) FROM {name}"
                                         ).result_rows[0]
        report.rows = int(written)
        report.mean_snr_db = None if not written else round(float(mean), 2)
        if report.rows != counts.get(0, 0):
            raise DataError(f"import wrote {report.rows:,} rows but kept {counts.get(0, 0):,}; "
                            f"{db.database}.{db.table} is unchanged")
        _check_result(info, report)
        with translating(db):
            # One part: the loader's single-threaded read then gives the same order every time.
            client.command(f"OPTIMIZE TABLE {name} FINAL")
            swap_in(client, db, staging, exists, _provenance(report),
                    last_check=lambda: _check_cancel(db, cancel, report))
    finally:
        _drop(client, f"DROP DATABASE IF EXISTS `{scratch}` SYNC")
        _drop(client, f"DROP TABLE IF EXISTS `{db.database}`.`{staging}` SYNC")
    report.seconds = time.perf_counter() - t0
    return report


def _check_cancel(db: DatabaseSettings, cancel: Cancel | None, report: ImportReport) -> None:
    """The last look at the cancel flag, with Ctrl-C held (engine.data.swap.swap_in): a
    cancel that came before this point keeps the old table, one after it is too late."""
    if cancel is not None and cancel():
        raise ImportCancelled(f"import cancelled after all {report.read:,} rows were read; "
                              f"{db.database}.{db.table} is unchanged")


def _provenance(report: ImportReport) -> Provenance:
    return Provenance("bundle", {
        "file": report.file, "from_table": report.from_table, "size": report.size,
        "rows": report.rows, "read": report.read, "excluded": report.excluded,
        "mean_snr_db": report.mean_snr_db, "written_at": _now()})


def _drop(client, sql: str) -> None:
    try:
        client.command(sql)
    except Exception:  # clean-up must not hide the error that got us here
        pass


def bundle_status(client, db: DatabaseSettings) -> dict[str, Any] | None:
    """The import's parameters when the table holds an imported bundle, else None (for
    `data status` and the app's data panel)."""
    try:
        prov = read_provenance(client, db)
    except DataError:
        return None
    return dict(prov.params) if prov is not None and prov.kind == "bundle" else None


def bundle_lines(meta: dict[str, Any]) -> list[str]:
    """`data status` / data panel text for an imported bundle."""
    excl = {k: v for k, v in (meta.get("excluded") or {}).items() if v}
    size = meta.get("size") or 0
    lines = [f"imported from the IONIS signature bundle {meta.get('file')} "
             f"({size / 1e9:.2f} GB, table {meta.get('from_table')}) at {meta.get('written_at')}",
             f"{meta.get('rows', 0):,} of {meta.get('read', 0):,} rows kept"]
    if excl:
        lines[-1] += "; excluded " + ", ".join(f"{k} {v:,}" for k, v in excl.items())
    return lines
