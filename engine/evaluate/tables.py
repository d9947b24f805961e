"""ClickHouse sources of the evaluation: a signature table as Observations, and the training
table's climatology (baselines b and c). Rows go through the loader's own validity checks."""

from __future__ import annotations

import numpy as np

from engine.data.client import connect, translating, where
from engine.data.loader import HAS_SFI, VALID
from engine.data.schema import LOADER_COLUMNS, check_schema, table_columns
from engine.data.spot_sql import SPOTS_COLUMNS
from engine.errors import DataError, InputError
from engine.evaluate.arrays import Observations
from engine.settings import DatabaseSettings

# The columns of the table `data ingest` fills: a table with them all is a spots table.
SPOT_TABLE_COLUMNS = frozenset(SPOTS_COLUMNS)


def with_table(db: DatabaseSettings, table: str) -> DatabaseSettings:
    """`table` or `database.table`, validated like the settings (identifiers are quoted, so
    they must be plain)."""
    update = dict(zip(("database", "table"), table.split(".", 1), strict=True)) if "." in table \
        else {"table": table}
    try:
        return DatabaseSettings.model_validate({**db.model_dump(), **update})
    except ValueError:
        raise InputError(f"table {table!r} is not a plain identifier (letters, digits, _; "
                         f"optionally database.table)") from None


def _checked(db: DatabaseSettings, table: str | None) -> tuple[object, DatabaseSettings]:
    d = with_table(db, table) if table else db
    client = connect(d)
    check_schema(client, d)
    return client, d


def table_kind(client, d: DatabaseSettings) -> str:
    """"spots" (the table `data ingest` fills) or "signatures" (checked against the signature
    schema); a table that is neither is refused naming what each lacks."""
    cols = table_columns(client, d)
    if cols and SPOT_TABLE_COLUMNS <= set(cols):
        return "spots"
    if not cols or set(LOADER_COLUMNS) <= set(cols):
        check_schema(client, d)  # missing table, or column types
        return "signatures"
    lack_sig = [c for c in LOADER_COLUMNS if c not in cols]
    lack_spots = sorted(SPOT_TABLE_COLUMNS - set(cols))
    raise DataError(f"{where(d)}: table {d.database}.{d.table} is neither a signature table "
                    f"(lacks {', '.join(lack_sig)}) nor a spots table from `data ingest` "
                    f"(lacks {', '.join(lack_spots)})")


def months_of(span: tuple[str | None, str | None]) -> list[int] | None:
    """Months of the year inside [start, end) (dates from month_bounds); None = every month."""
    start, end = span
    if not start or not end:
        return None
    y0, m0 = int(start[:4]), int(start[5:7])
    y1, m1 = int(end[:4]), int(end[5:7])
    n = (y1 - y0) * 12 + (m1 - m0)
    return None if n >= 12 else sorted({(m0 - 1 + i) % 12 + 1 for i in range(n)})


def signatures_from_table(db: DatabaseSettings, span: tuple[str | None, str | None] = (None, None),
                          table: str | None = None) -> Observations:
    """Usable rows (space weather present, valid) of a signature table; mid-month day.
    A signature carries its month of the year, not its year: --from/--to keep the months of
    the year they span (every month for a span of a year or more)."""
    if (span[0] is None) != (span[1] is None):
        raise InputError("a signature table has months of the year, not years: give both --from "
                         "and --to (the months of the year between them are kept)")
    client, d = _checked(db, table)
    months = months_of(span)
    keep = f" AND month IN ({', '.join(map(str, months))})" if months else ""
    sql = (f"SELECT upper(toString(tx_grid_4)), upper(toString(rx_grid_4)), toInt16(band), "
           f"toInt8(hour), toInt8(month), toFloat32(median_snr), toFloat32(avg_sfi), "
           f"toFloat32(avg_kp) FROM {d.qualified_table} WHERE {HAS_SFI} AND {VALID}{keep}")
    with translating(d):
        total = int(client.query(f"SELECT count() FROM {d.qualified_table}").result_rows[0][0])
        usable = int(client.query(f"SELECT count() FROM {d.qualified_table} "
                                  f"WHERE {HAS_SFI} AND {VALID}").result_rows[0][0])
        cols = client.query(sql).result_columns
    if not cols or not len(cols[0]):
        raise InputError(f"table {d.database}.{d.table} has no usable rows (with space weather"
                         f"{', in the chosen months' if months else ''}) to evaluate")
    txg = np.array(cols[0], dtype="S4")
    rxg = np.array(cols[1], dtype="S4")
    f = [np.asarray(c) for c in cols[2:]]
    n = len(txg)
    dropped = {"no_space_weather_or_malformed": total - usable}
    notes = []
    if months:
        dropped["outside --from/--to (month of year)"] = usable - n
        notes.append(f"signatures carry no year: kept months {', '.join(map(str, months))}")
    return Observations("signatures", f"{d.database}.{d.table}", txg, rxg, f[0].astype(np.int16),
                        f[1].astype(np.int8), f[2].astype(np.int8), None, f[3].astype(np.float32),
                        f[4].astype(np.float32), f[5].astype(np.float32), read=total,
                        dropped=dropped, notes=notes)


def climatology(db: DatabaseSettings, table: str | None) -> dict[tuple[int, int], tuple[float, float]]:
    """{(band, hour): (sum of median_snr * spot_count, sum of spot_count)} over the rows
    training reads: the mean SNR per band or per (band, hour), weighted like training."""
    client, d = _checked(db, table)
    sql = (f"SELECT toInt32(band), toInt32(hour), sum(toFloat64(median_snr) * spot_count), "
           f"sum(toFloat64(spot_count)) FROM {d.qualified_table} WHERE {HAS_SFI} AND {VALID} "
           f"GROUP BY band, hour")
    with translating(d):
        rows = client.query(sql).result_rows
    if not rows:
        raise InputError(f"table {d.database}.{d.table} has no usable rows for a climatology")
    return {(int(b), int(h)): (float(s), float(w)) for b, h, s, w in rows}


def climatology_arrays(clim: dict[tuple[int, int], tuple[float, float]], band: np.ndarray,
                       hour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row band climatology and (band, hour) climatology; NaN where the table has none."""
    per_band: dict[int, list[float]] = {}
    for (b, _h), (s, w) in clim.items():
        acc = per_band.setdefault(b, [0.0, 0.0])
        acc[0] += s
        acc[1] += w
    bmean = np.full(band.shape, np.nan, dtype=np.float32)
    bhmean = np.full(band.shape, np.nan, dtype=np.float32)
    for b, (s, w) in per_band.items():
        bmean[band == b] = s / w if w else np.nan
    for (b, h), (s, w) in clim.items():
        bhmean[(band == b) & (hour == h)] = s / w if w else np.nan
    return bmean, bhmean
