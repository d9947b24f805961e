"""The three Maidenhead decoders agree on every 4-character square: the scalar one (inputs,
presets), the numpy one and the SQL one the loader runs in ClickHouse (real chdb). And a
square's centre encodes back to the same square."""

from __future__ import annotations

import numpy as np

from engine.data.client import connect
from engine.grids import grid_latlon_sql, grid_to_latlon, grids_to_latlon, latlon_to_grid4
from engine.settings import DatabaseSettings

# Every square AA00 .. RR99, built in SQL from a row number, so SQL decodes its own strings.
GRIDS_SQL = ("SELECT concat(char(65 + intDiv(number, 1800)), char(65 + intDiv(number, 100) % 18), "
             "toString(intDiv(number, 10) % 10), toString(number % 10)) AS g FROM numbers(32400)")


def test_scalar_numpy_and_sql_decoders_agree(chdb_path):
    lat_sql, lon_sql = grid_latlon_sql("g")
    rows = connect(DatabaseSettings(path=chdb_path)).query(
        f"SELECT g, {lat_sql}, {lon_sql} FROM ({GRIDS_SQL}) ORDER BY g").result_rows
    grids = [r[0] for r in rows]
    assert len(set(grids)) == 32400 and grids[0] == "AA00" and grids[-1] == "RR99"
    sql = np.array([(r[1], r[2]) for r in rows], dtype=np.float64)
    scalar = np.array([grid_to_latlon(g) for g in grids], dtype=np.float64)
    lat_np, lon_np = grids_to_latlon(np.array(grids))
    vec = np.stack([lat_np, lon_np], axis=1).astype(np.float64)
    # float32 in SQL and numpy: agreement to float32 rounding of numbers up to 180
    np.testing.assert_allclose(sql, scalar, atol=1e-4)
    np.testing.assert_allclose(vec, scalar, atol=1e-4)
    # lower case decodes the same (hand-typed grids)
    assert grid_to_latlon("fn20") == grid_to_latlon("FN20")
    assert [latlon_to_grid4(*grid_to_latlon(g)) for g in grids] == grids
