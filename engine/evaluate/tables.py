"""ClickHouse sources of the evaluation: a signature table as Observations, and the training
table's climatology (baselines b and c). Rows go through the loader's own validity checks."""

from __future__ import annotations

import numpy as np

from engine.data.client import connect, translating
from engine.data.loader import HAS_SFI, VALID
from engine.data.schema import check_schema
from engine.errors import InputError
from engine.evaluate.arrays import Observations
from engine.settings import DatabaseSettings


def _with_table(db: DatabaseSettings, table: str) -> DatabaseSettings:
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
    d = _with_table(db, table) if table else db
    client = connect(d)
    check_schema(client, d)
    return client, d


def signatures_from_table(db: DatabaseSettings, table: str | None) -> Observations:
    """Usable rows (space weather present, valid) of a signature table; mid-month day."""
    client, d = _checked(db, table)
    sql = (f"SELECT upper(toString(tx_grid_4)), upper(toString(rx_grid_4)), toInt16(band), "
           f"toInt8(hour), toInt8(month), toFloat32(median_snr), toFloat32(avg_sfi), "
           f"toFloat32(avg_kp) FROM {d.qualified_table} WHERE {HAS_SFI} AND {VALID}")
    with translating(d):
        total = int(client.query(f"SELECT count() FROM {d.qualified_table}").result_rows[0][0])
        cols = client.query(sql).result_columns
    if not cols or not len(cols[0]):
        raise InputError(f"table {d.database}.{d.table} has no usable rows (with space weather) to evaluate")
    txg = np.array(cols[0], dtype="S4")
    rxg = np.array(cols[1], dtype="S4")
    f = [np.asarray(c) for c in cols[2:]]
    n = len(txg)
    return Observations("signatures", f"{d.database}.{d.table}", txg, rxg, f[0].astype(np.int16),
                        f[1].astype(np.int8), f[2].astype(np.int8), None, f[3].astype(np.float32),
                        f[4].astype(np.float32), f[5].astype(np.float32), read=total,
                        dropped={"no_space_weather_or_malformed": total - n}, checks={})


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
