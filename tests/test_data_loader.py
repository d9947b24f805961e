"""load_rows on real chdb: exact values, path split, seeded sampling, progress/cancel,
malformed rows filtered and counted."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.data.client import connect
from engine.data.loader import LoadCancelled, LoadedRows, count_rows, load_rows
from engine.data.rows import COL, COLUMNS, SignatureRows
from engine.data.schema import SCHEMA, create_table_sql, ensure_table
from engine.demo.seed import seed_demo
from engine.errors import DataError, InputError
from engine.grids import grids_to_latlon
from engine.settings import DatabaseSettings

N = 20_000


@pytest.fixture(scope="module")
def db(chdb_path) -> DatabaseSettings:
    db = DatabaseSettings(path=chdb_path, table="sig_test_data")
    seed_demo(connect(db), db, N, seed=11, force=True)
    return db


def _expected(client, db) -> np.ndarray:
    """The 11 non-split columns computed independently in numpy from the raw table."""
    r = client.query(f"SELECT tx_grid_4, rx_grid_4, band, hour, month, median_snr, spot_count, "
                     f"avg_sfi, avg_kp FROM {db.qualified_table}").result_columns
    tx_lat, tx_lon = grids_to_latlon(np.array(r[0]))
    rx_lat, rx_lon = grids_to_latlon(np.array(r[1]))
    cols = [tx_lat, tx_lon, rx_lat, rx_lon] + [np.asarray(c, dtype=np.float32) for c in r[2:]]
    return np.stack(cols, axis=1).astype(np.float32)


def _sorted(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


def test_load_returns_exact_float32_rows(db):
    client = connect(db)
    rows = load_rows(client, db)
    assert isinstance(rows, LoadedRows) and isinstance(rows, SignatureRows)
    assert rows.array.dtype == np.float32 and rows.array.flags.c_contiguous
    assert rows.array.shape == (N, len(COLUMNS)) == (count_rows(client, db), 12)
    got = rows.array[:, :11]
    assert np.array_equal(_sorted(got), _sorted(_expected(client, db)))
    assert rows.report.loaded == N and rows.report.malformed == 0 and rows.report.no_sfi == 0


def test_split_is_by_undirected_path_and_seeded(db):
    client = connect(db)
    rows = load_rows(client, db, val_fraction=0.2, seed=42)
    a = rows.array
    ends = np.stack([a[:, COL["tx_lat"]], a[:, COL["tx_lon"]], a[:, COL["rx_lat"]],
                     a[:, COL["rx_lon"]]], axis=1)
    # Undirected path key: the two ends in a fixed order.
    swap = (ends[:, 0] > ends[:, 2]) | ((ends[:, 0] == ends[:, 2]) & (ends[:, 1] > ends[:, 3]))
    ends[swap] = ends[swap][:, [2, 3, 0, 1]]
    keys = [tuple(r) for r in ends]
    val = rows.val_mask
    val_paths = {k for k, v in zip(keys, val, strict=True) if v}
    train_paths = {k for k, v in zip(keys, val, strict=True) if not v}
    assert val_paths and train_paths and not (val_paths & train_paths)
    share = len(val_paths) / (len(val_paths) + len(train_paths))
    assert 0.17 < share < 0.23
    assert rows.report.val_rows == int(val.sum())
    other = load_rows(client, db, val_fraction=0.2, seed=43)
    assert not np.array_equal(other.val_mask, val)          # the seed changes the split
    again = load_rows(client, db, val_fraction=0.2, seed=42)
    assert np.array_equal(again.array, a)                   # same table + seed: same rows, order
    assert not load_rows(client, db, val_fraction=0.0).val_mask.any()


def test_seeded_sample_is_deterministic(db):
    client = connect(db)
    s1 = load_rows(client, db, limit_rows=1000, seed=5)
    s2 = load_rows(client, db, limit_rows=1000, seed=5)
    s3 = load_rows(client, db, limit_rows=1000, seed=6)
    assert len(s1) == 1000 and np.array_equal(s1.array, s2.array)
    assert not np.array_equal(_sorted(s1.array[:, :11]), _sorted(s3.array[:, :11]))
    assert s1.report.not_sampled == N - 1000
    assert len(load_rows(client, db, limit_rows=10 * N)) == N  # more than there is: all rows


def test_progress_and_cancel(db):
    client = connect(db)
    seen = []
    load_rows(client, db, progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, N) and seen[-1] == (N, N)
    assert all(b[0] >= a[0] for a, b in zip(seen, seen[1:], strict=False))
    with pytest.raises(LoadCancelled) as e:
        load_rows(client, db, cancel=lambda: True)
    assert isinstance(e.value, DataError) and "cancelled" in str(e.value)


def test_bad_arguments_are_refused(db):
    client = connect(db)
    with pytest.raises(InputError):
        load_rows(client, db, limit_rows=-1)
    with pytest.raises(InputError):
        load_rows(client, db, val_fraction=1.5)


GOOD = ("FN20", "IO91", 107, 14, 6, -15.0, 10, 2.0, 0.5, 150.0, 2.0, 5880, 50)


def _row(**change):
    r = dict(zip(SCHEMA, GOOD, strict=True))
    r.update(change)
    return [r[c] for c in SCHEMA]


def test_malformed_rows_are_filtered_and_counted(chdb_path):
    db = DatabaseSettings(path=chdb_path, table="sig_test_bad")
    client = connect(db)
    ensure_table(client, db)
    client.command(f"TRUNCATE TABLE {db.qualified_table}")
    rows = [
        _row(), _row(tx_grid_4="fn31"),                  # good (lower-case grids are fine)
        _row(median_snr=math.nan), _row(median_snr=math.inf),  # snr
        _row(band=99), _row(band=112),                   # band
        _row(hour=24),                                   # hour
        _row(month=0), _row(month=13),                   # month
        _row(tx_grid_4="ZZ99"), _row(rx_grid_4="IO9!"),  # grid
        _row(avg_kp=math.nan), _row(avg_kp=9.5),         # kp
        _row(avg_sfi=math.inf),                          # sfi
        _row(spot_count=0),                              # spot_count
        _row(band=99, hour=30),                          # two reasons, one row
        _row(avg_sfi=0.0), _row(avg_sfi=math.nan),       # no SFI: skipped by design
    ]
    cols = list(zip(*rows, strict=True))
    cols[0] = [g.encode() for g in cols[0]]
    cols[1] = [g.encode() for g in cols[1]]
    client.insert(db.table, [list(c) for c in cols], column_names=list(SCHEMA),
                  column_oriented=True, database=db.database)
    out = load_rows(client, db)
    r = out.report
    assert len(out) == 2 and r.loaded == 2
    assert r.table_rows == len(rows) and r.no_sfi == 2 and r.malformed == len(rows) - 4
    assert r.reasons == {"snr": 2, "band": 3, "hour": 2, "month": 2, "grid": 2, "sfi": 1,
                         "kp": 2, "spot_count": 1}
    assert np.isfinite(out.array).all()
    assert sorted(out.col("tx_lat").tolist()) == [40.5, 41.5]  # FN20 / fn31 centres
    assert "malformed dropped" in r.summary() and "without SFI" in r.summary()
    assert count_rows(client, db) == 2 and count_rows(client, db, where_valid=False) == len(rows)


def test_nullable_table_nulls_are_malformed_not_crashes(chdb_path):
    db = DatabaseSettings(path=chdb_path, table="sig_test_nullable")
    client = connect(db)
    ensure_table(client, db)
    client.command(f"DROP TABLE IF EXISTS {db.qualified_table}")
    client.command(create_table_sql(db).replace("`median_snr` Float32",
                                                "`median_snr` Nullable(Float32)"))
    client.insert(db.table, [[b"FN20", b"FN20"], [b"IO91", b"JO01"], [107, 107], [1, 2], [6, 6],
                             [None, -12.5], [10, 10], [2.0, 2.0], [0.5, 0.5], [150.0, 150.0],
                             [2.0, 2.0], [5880, 5880], [50, 50]],
                  column_names=list(SCHEMA), column_oriented=True, database=db.database)
    out = load_rows(client, db)
    assert len(out) == 1 and out.col("median_snr")[0] == -12.5
    assert out.report.reasons["snr"] == 1
