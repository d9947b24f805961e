"""Test-side writer of SQLite files with exactly the published IONIS signature bundle schema
(`wspr_signatures_v2.sqlite`, table `wspr_signatures_v2`). Used by the import tests and by
bench/import_throughput.py; the engine itself never writes SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

TABLE = "wspr_signatures_v2"
COLUMNS = ("tx_grid_4", "rx_grid_4", "band", "hour", "month", "median_snr", "spot_count",
           "snr_std", "reliability", "avg_sfi", "avg_kp", "avg_distance", "avg_azimuth")
# The published declaration, column for column.
CREATE = (f"CREATE TABLE {TABLE} (tx_grid_4 TEXT, rx_grid_4 TEXT, band INTEGER, hour INTEGER, "
          "month INTEGER, median_snr REAL, spot_count INTEGER, snr_std REAL, reliability REAL, "
          "avg_sfi REAL, avg_kp REAL, avg_distance REAL, avg_azimuth REAL)")

# One plausible WSPR signature: W3 (FN20) -> G (IO91), 20 m, 14 UTC, June.
GOOD_ROW = ("FN20", "IO91", 107, 14, 6, -14.5, 12, 4.1, 0.8, 150.0, 2.3, 5880.0, 50.0)


def write_bundle(path: Path, rows: Iterable[tuple], table: str = TABLE,
                 create: str | None = None) -> Path:
    """A fresh SQLite file holding `rows` in `table` (the published schema by default)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        con.execute(create or CREATE.replace(TABLE, table, 1))
        rows = list(rows)
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        con.commit()
    finally:
        con.close()
    return path


def good_rows(n: int, seed: int = 0) -> list[tuple]:
    """n valid, distinct-looking signatures (grids, bands, hours, months, SFI/Kp varied)."""
    rng = np.random.default_rng(seed)
    return [tuple(r) for r in _columns(n, rng)]


def _columns(n: int, rng: np.random.Generator):
    letters = np.array(list("ABCDEFGHIJKLMNOPQR"))
    def grids() -> np.ndarray:
        a = letters[rng.integers(0, 18, n)]
        b = letters[rng.integers(0, 18, n)]
        d = rng.integers(0, 100, n)
        return np.char.add(np.char.add(a, b), np.char.zfill(d.astype(str), 2))
    band = rng.integers(102, 112, n)
    cols = (grids(), grids(), band, rng.integers(0, 24, n), rng.integers(1, 13, n),
            np.round(rng.normal(-18.0, 6.7, n) * 2) / 2, rng.integers(5, 400, n),
            np.round(rng.uniform(1, 9, n), 3), np.round(rng.uniform(0, 1, n), 3),
            np.round(rng.uniform(65, 250, n), 2), np.round(rng.uniform(0, 7, n), 2),
            rng.integers(500, 19000, n).astype(float), rng.integers(0, 360, n).astype(float))
    return zip(*(c.tolist() for c in cols), strict=True)


def write_generated(path: Path, n: int, seed: int = 0, chunk: int = 200_000) -> Path:
    """A large bundle of n valid rows, written in chunks (the benchmark's input)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode = OFF")
        con.execute("PRAGMA synchronous = OFF")
        con.execute(CREATE)
        rng = np.random.default_rng(seed)
        marks = ", ".join("?" * len(COLUMNS))
        for a in range(0, n, chunk):
            con.executemany(f"INSERT INTO {TABLE} VALUES ({marks})",
                            _columns(min(chunk, n - a), rng))
        con.commit()
    finally:
        con.close()
    return path
