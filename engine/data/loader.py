"""Stream signature rows from ClickHouse into one preallocated float32 matrix.

Everything per row happens in SQL: grid squares become lat/lon (centre of the 4-character
square), the train/validation split is a seeded hash of the PATH, and malformed rows are
filtered out (and counted). Python only copies numeric column blocks into the matrix, so
there is no per-row Python code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from engine.bands import hf_band_sql
from engine.data.client import translating, where
from engine.data.rows import COLUMNS, SignatureRows
from engine.data.schema import check_schema
from engine.errors import DataError, InputError
from engine.grids import grid_latlon_sql, valid_sql
from engine.settings import DatabaseSettings

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]

_SPLIT_SCALE = 1_000_000  # is_val = hash % 1e6 < val_fraction * 1e6

# Why a row is dropped -> the SQL condition a GOOD row satisfies. ifNull(..., 0) makes NULLs
# (possible only in a Nullable server table) count as bad instead of vanishing from countIf.
# Numbers are checked as the float32 the trainer gets (1e300 is inf there) and against
# physical bounds: an SNR of 3e38 dB is finite, yet it would blow every loss to inf.
SNR_DB_LIMIT = 100.0
SFI_LIMIT = 1000.0
VALIDITY: dict[str, str] = {
    "snr": f"ifNull(isFinite(toFloat32(median_snr)) AND abs(median_snr) <= {SNR_DB_LIMIT}, 0)",
    "band": f"ifNull({hf_band_sql()}, 0)",
    "hour": "ifNull(hour BETWEEN 0 AND 23, 0)",
    "month": "ifNull(month BETWEEN 1 AND 12, 0)",
    "grid": f"ifNull({valid_sql('tx_grid_4')} AND {valid_sql('rx_grid_4')}, 0)",
    "sfi": f"ifNull(isFinite(toFloat32(avg_sfi)) AND avg_sfi <= {SFI_LIMIT}, 0)",
    "kp": "ifNull(isFinite(toFloat32(avg_kp)) AND avg_kp BETWEEN 0 AND 9, 0)",
    "spot_count": "ifNull(isFinite(toFloat32(spot_count)) AND spot_count > 0, 0)",
}
# Rows without space weather are excluded by design (the original IONIS trains on avg_sfi > 0 only);
# they are counted separately from malformed rows.
HAS_SFI = "ifNull(avg_sfi > 0, 0)"
VALID = " AND ".join(f"({c})" for c in VALIDITY.values())


def _num(col: str) -> str:
    return f"toFloat32(assumeNotNull({col}))"


def _select_exprs() -> list[str]:
    tx_lat, tx_lon = grid_latlon_sql("tx_grid_4")
    rx_lat, rx_lon = grid_latlon_sql("rx_grid_4")
    # The split hashes the UNDIRECTED path, so A->B and B->A (near-reciprocal propagation)
    # always fall on the same side: no path, in either direction, is in both sets.
    tg, rg = "upper(toString(tx_grid_4))", "upper(toString(rx_grid_4))"
    is_val = (f"toFloat32(cityHash64(least({tg}, {rg}), greatest({tg}, {rg}), {{seed:UInt64}}) "
              f"% {_SPLIT_SCALE} < {{cut:UInt64}})")
    exprs = {
        "tx_lat": tx_lat, "tx_lon": tx_lon, "rx_lat": rx_lat, "rx_lon": rx_lon,
        "band": _num("band"), "hour": _num("hour"), "month": _num("month"),
        "median_snr": _num("median_snr"), "spot_count": _num("spot_count"),
        "avg_sfi": _num("avg_sfi"), "avg_kp": _num("avg_kp"), "is_val": is_val,
    }
    # Aliases must not reuse column names: ClickHouse substitutes SELECT aliases into WHERE,
    # and the validity checks must see the raw (possibly NULL/NaN) values.
    return [f"{exprs[name]} AS out_{name}" for name in COLUMNS]


_SAMPLE_KEY = "cityHash64(tx_grid_4, rx_grid_4, band, hour, month, {seed:UInt64})"
_HASH_MAX = 2**64 - 1


def select_sql(db: DatabaseSettings, limit_rows: int = 0) -> str:
    """The query load_rows streams (parameters: seed, cut, and limit and sample_cut when
    sampling)."""
    sql = (f"SELECT {', '.join(_select_exprs())} FROM {db.qualified_table} "
           f"WHERE {HAS_SFI} AND {VALID}")
    if limit_rows > 0:
        # Deterministic seeded sample: rank rows by a seeded hash of their key (ties broken by
        # value) and keep the first N. The same seed and table give the same rows. Only rows
        # whose hash is at most sample_cut (chosen so that at least N rows are) reach the sort:
        # it holds about N rows, not the table.
        sql += (f" AND {_SAMPLE_KEY} <= {{sample_cut:UInt64}} ORDER BY {_SAMPLE_KEY}, "
                "median_snr, spot_count, avg_sfi, avg_kp LIMIT {limit:UInt64}")
    return sql


def sample_cut(client, db: DatabaseSettings, seed: int, usable: int, want: int) -> int:
    """A hash bound with at least `want` usable rows at or below it, a little above the
    want-th smallest hash: the sample (the `want` rows of smallest hash, ties included) lies
    wholly below it. One counting pass over the table, rarely two."""
    frac = (want + 6 * want**0.5 + 1000) / max(usable, 1)  # six sigma over the expected count
    while frac < 1:
        cut = int(frac * _HASH_MAX)
        with translating(db):
            below = int(client.query(
                f"SELECT count() FROM {db.qualified_table} WHERE {HAS_SFI} AND {VALID} "
                f"AND {_SAMPLE_KEY} <= {{sample_cut:UInt64}}",
                parameters={"seed": int(seed), "sample_cut": cut}).result_rows[0][0])
        if below >= want:
            return cut
        frac *= 2  # rows of one cell share a hash: clumps can leave fewer below than expected
    return _HASH_MAX


@dataclass
class LoadReport:
    """What a load found: every row of the table is in exactly one of loaded / not_sampled /
    no_sfi / malformed. `reasons` counts malformed rows per failed check (a row failing two
    checks counts in both)."""

    table_rows: int = 0
    no_sfi: int = 0
    malformed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    usable: int = 0          # rows passing every check
    loaded: int = 0          # rows in the result (usable, or the sample of it)
    val_rows: int = 0
    seconds: float = 0.0

    @property
    def not_sampled(self) -> int:
        return self.usable - self.loaded

    def summary(self) -> str:
        s = f"{self.loaded:,} rows loaded ({self.val_rows:,} validation) of {self.table_rows:,}"
        if self.not_sampled:
            s += f"; {self.not_sampled:,} not sampled"
        if self.no_sfi:
            s += f"; {self.no_sfi:,} without SFI skipped"
        if self.malformed:
            why = ", ".join(f"{k} {v:,}" for k, v in self.reasons.items() if v)
            s += f"; {self.malformed:,} malformed dropped ({why})"
        return s


@dataclass
class LoadedRows(SignatureRows):
    """SignatureRows plus the report of what was dropped and why."""

    report: LoadReport = field(default_factory=LoadReport)


class LoadCancelled(DataError):
    """cancel() returned True: loading stopped and nothing partial is returned."""


def _count_sql(db: DatabaseSettings) -> str:
    reasons = ", ".join(f"countIf({HAS_SFI} AND NOT ({c})) AS bad_{k}" for k, c in VALIDITY.items())
    return (f"SELECT count(), countIf(NOT {HAS_SFI}), countIf({HAS_SFI} AND NOT ({VALID})), "
            f"countIf({HAS_SFI} AND {VALID}), {reasons} FROM {db.qualified_table}")


def scan_report(client, db: DatabaseSettings, checked: bool = False) -> LoadReport:
    """One pass over the table counting usable, SFI-less and malformed rows (no data read)."""
    if not checked:
        check_schema(client, db)
    with translating(db):
        row = client.query(_count_sql(db)).result_rows[0]
    total, no_sfi, bad, usable, *per = (int(v) for v in row)
    return LoadReport(table_rows=total, no_sfi=no_sfi, malformed=bad, usable=usable,
                      reasons=dict(zip(VALIDITY, per, strict=True)))


def count_rows(client, db: DatabaseSettings, where_valid: bool = True) -> int:
    """Rows load_rows would read (where_valid) or every row of the table."""
    check_schema(client, db)
    cond = f"{HAS_SFI} AND {VALID}" if where_valid else "1"
    with translating(db):
        return int(client.query(f"SELECT count() FROM {db.qualified_table} WHERE {cond}")
                   .result_rows[0][0])


def _check_args(limit_rows: int, seed: int, val_fraction: float) -> None:
    if int(limit_rows) < 0:
        raise InputError(f"limit_rows must be >= 0 (0 = all rows), got {limit_rows}")
    if not 0 <= int(seed) < 2**63:
        raise InputError(f"seed must be a non-negative integer, got {seed}")
    if not 0.0 <= float(val_fraction) < 1.0:
        raise InputError(f"val_fraction must be in [0, 1), got {val_fraction}")


def load_rows(client, db: DatabaseSettings, *, limit_rows: int = 0, seed: int = 42,
              val_fraction: float = 0.2, progress: Progress | None = None,
              cancel: Cancel | None = None,
              before_read: Callable[[int], None] | None = None) -> LoadedRows:
    """Read usable signature rows as a LoadedRows (float32 (N, 12), columns as rows.COLUMNS).

    limit_rows > 0 keeps a deterministic seeded sample of that many rows. The split puts a
    path in validation when a seeded hash of its (unordered) grid pair falls below
    val_fraction, so a path is never on both sides. progress(done, total) is called once per
    block (total is the table's row count until the last call, which reports the rows
    actually kept); cancel() is checked per block and True raises LoadCancelled (a
    DataError): a partial load is never returned. before_read(rows) is called with the most
    rows the read can return before anything is read or allocated (a memory check raises
    there). Malformed and SFI-less rows are skipped
    in SQL and counted in `.report`. Without sampling, rows come in storage order
    (single-threaded read), so the same table gives the same rows in the same order.
    """
    _check_args(limit_rows, seed, val_fraction)
    t0 = time.perf_counter()
    check_schema(client, db)
    report, capacity = _size(client, db, limit_rows)
    if before_read is not None:
        before_read(capacity)
    params = {"seed": int(seed), "cut": int(round(float(val_fraction) * _SPLIT_SCALE)),
              "limit": int(capacity)}
    if limit_rows > 0:
        params["sample_cut"] = sample_cut(client, db, seed, report.usable, capacity)
    out = _stream(client, db, limit_rows, params, capacity, progress, cancel)
    done = len(out)
    report = _reconcile(client, db, limit_rows, report, capacity, done)
    if done < capacity:
        # Keep the allocation when little was dropped; copy when it would waste > 10 %.
        out = out if done >= 0.9 * capacity else out.copy()
    if progress:
        progress(done, done)
    report.loaded = done
    report.val_rows = int(np.count_nonzero(out[:, COLUMNS.index("is_val")] > 0.5))
    report.seconds = time.perf_counter() - t0
    return LoadedRows(out, report)


def _size(client, db: DatabaseSettings, limit_rows: int) -> tuple[LoadReport, int]:
    """The report so far and the most rows the read can return (the buffer to allocate)."""
    if limit_rows > 0:
        # A sample needs the usable count up front (to report what was left out).
        report = scan_report(client, db, checked=True)
        _require_rows(db, report)
        return report, min(report.usable, limit_rows)
    # count() of a whole MergeTree table is free (part metadata): it bounds the result,
    # and the filtering pass over the data happens once, in the read itself.
    with translating(db):
        table_rows = int(client.query(f"SELECT count() FROM {db.qualified_table}").result_rows[0][0])
    return LoadReport(table_rows=table_rows), table_rows


def _stream(client, db: DatabaseSettings, limit_rows: int, params: dict, capacity: int,
            progress: Progress | None, cancel: Cancel | None) -> np.ndarray:
    """Read the rows block by block into one float32 buffer; returns the filled part."""
    settings = {} if limit_rows > 0 else {"max_threads": 1}
    out = np.empty((capacity, len(COLUMNS)), dtype=np.float32)
    done = 0
    if progress:
        progress(0, capacity)
    with translating(db):
        with client.query_column_block_stream(select_sql(db, limit_rows), parameters=params,
                                              settings=settings) as stream:
            for block in stream:
                if cancel is not None and cancel():
                    raise LoadCancelled(f"loading cancelled after {done:,} rows")
                n = len(block[0])
                if done + n > capacity:
                    raise DataError(f"{db.database}.{db.table} changed while loading "
                                    f"(more rows than counted); load again",
                                    setting="database.table")
                for j, col in enumerate(block):
                    out[done:done + n, j] = _as_f32(col)
                done += n
                if progress and done < capacity:
                    progress(done, capacity)
    return out[:done]


def _reconcile(client, db: DatabaseSettings, limit_rows: int, report: LoadReport,
               capacity: int, done: int) -> LoadReport:
    """Check the rows that arrived against the count; say which rows were skipped and why."""
    if limit_rows > 0:
        if done != capacity:
            raise DataError(f"{db.database}.{db.table} changed while loading ({done:,} of "
                            f"{capacity:,} rows arrived); load again", setting="database.table")
    elif done < capacity:
        # Some rows were skipped: one counting pass says which and why (clean tables never
        # pay for it).
        report = scan_report(client, db, checked=True)
        if report.usable != done:
            raise DataError(f"{db.database}.{db.table} changed while loading; load again",
                            setting="database.table")
        _require_rows(db, report)
    else:
        report.usable = done
    if done == 0:
        _require_rows(db, report)
    return report


def _require_rows(db: DatabaseSettings, report: LoadReport) -> None:
    if report.usable > 0:
        return
    hint = "; run `ionis-tui data seed`" if db.mode == "embedded" and report.table_rows == 0 else ""
    raise DataError(f"{where(db)}: {db.database}.{db.table} has no usable rows "
                    f"({report.table_rows:,} rows, {report.no_sfi:,} without SFI, "
                    f"{report.malformed:,} malformed){hint}", setting="database.table")


def _as_f32(col) -> np.ndarray:
    # Float32 columns arrive as array('f'): a zero-copy view. Anything else is converted.
    if getattr(col, "typecode", None) == "f":
        return np.frombuffer(col, dtype=np.float32)
    return np.asarray(col, dtype=np.float32)
