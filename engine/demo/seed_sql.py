"""The demo seeder's simulated spots aggregated by engine.data.aggregation's SQL (the code
`data build` and `evaluate --group signatures` run), through a scratch table of spots.

A batch may draw the same cell (path, band, hour, month) twice. Each draw keeps its own spots
and rows, and the seeder keeps the first row of a bucket, as for a cell drawn again in a later
batch: the cells of a batch are split into rounds in which every cell is unique, each round is
aggregated on its own, and rows come back in (cell, space class) order. The query runs on one
thread, so every sum adds its spots in the same order each time (the same seed, the same rows).

The row's space class (the bucket key's Kp and SFI class) is class_sql of its avg_kp and
avg_sfi: a mean of values inside one class stays inside it (Kp in thirds, SFI in tenths).
"""

from __future__ import annotations

import numpy as np

from engine.bands import BANDS
from engine.data.aggregation import (
    KP_CLASS_EDGES,
    N_CLASSES,
    SFI_CLASS_EDGES,
    class_sql,
    signatures_sql,
)
from engine.data.client import translating
from engine.geo import bearing_deg
from engine.grids import grid_code
from engine.settings import DatabaseSettings

SPOT_COLUMNS = {"tx_grid_4": "FixedString(4)", "rx_grid_4": "FixedString(4)", "band": "Int32",
                "hour": "UInt8", "month": "UInt8", "snr": "Int16", "sfi": "Float64",
                "kp": "Float64", "distance_km": "UInt32", "azimuth": "UInt16"}
SIG_COLUMNS = ("tx_grid_4", "rx_grid_4", "band", "hour", "month", "median_snr", "spot_count",
               "snr_std", "reliability", "avg_sfi", "avg_kp", "avg_distance", "avg_azimuth")
DTYPES = {"tx_grid_4": "S4", "rx_grid_4": "S4", "band": np.int32, "hour": np.uint8,
          "month": np.uint8, "median_snr": np.float32, "spot_count": np.uint32,
          "snr_std": np.float32, "reliability": np.float32, "avg_sfi": np.float32,
          "avg_kp": np.float32, "avg_distance": np.uint32, "avg_azimuth": np.uint16,
          "space_class": np.uint8}
BAND_IDS = np.array([b.id for b in BANDS], dtype=np.int32)


def create_scratch(client, db: DatabaseSettings, table: str) -> None:
    cols = ", ".join(f"`{c}` {t}" for c, t in SPOT_COLUMNS.items())
    with translating(db):
        client.command(f"DROP TABLE IF EXISTS `{db.database}`.`{table}` SYNC")
        client.command(f"CREATE TABLE `{db.database}`.`{table}` ({cols}) ENGINE = Memory")


def cell_keys(tx, rx, band_id, hour, month) -> np.ndarray:
    """One integer per (tx, rx, band, hour, month)."""
    key = grid_code(tx) * 32400 + grid_code(rx)
    band_i = np.asarray(band_id, dtype=np.int64) - BANDS[0].id
    return ((key * 10 + band_i) * 24 + np.asarray(hour, np.int64)) * 12 + (np.asarray(month, np.int64) - 1)


def _rounds(keys: np.ndarray) -> np.ndarray:
    """Round of each cell: 0 for a cell's first draw in the batch, 1 for its second, ..."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    start = np.r_[True, k[1:] != k[:-1]]
    pos = np.arange(len(k))
    first = np.maximum.accumulate(np.where(start, pos, 0))
    out = np.empty(len(k), np.int64)
    out[order] = pos - first
    return out


def _spot_columns(cells: dict, spots, mask: np.ndarray) -> dict:
    """Scratch-table columns of the spots in `mask`, each carrying its cell's inputs."""
    az = np.rint(bearing_deg(cells["tx_lat"], cells["tx_lon"], cells["rx_lat"],
                             cells["rx_lon"])).astype(np.int64) % 360
    per_cell = {"tx_grid_4": cells["tx"], "rx_grid_4": cells["rx"],
                "band": BAND_IDS[cells["band_i"]], "hour": cells["hour"].astype(np.uint8),
                "month": cells["month"].astype(np.uint8),
                "distance_km": np.rint(cells["distance"]).astype(np.uint32),
                "azimuth": az.astype(np.uint16)}
    c = spots.cell[mask]
    out = {k: v[c] for k, v in per_cell.items()}
    out.update(snr=spots.snr[mask].astype(np.int16), sfi=spots.sfi[mask], kp=spots.kp[mask])
    return {k: out[k] for k in SPOT_COLUMNS}


def aggregate_sql(client, db: DatabaseSettings, scratch: str, cells: dict, spots,
                  filters: dict[str, str], min_spots: int) -> dict:
    """Signatures (SIG_COLUMNS + "space_class") of the batch, in (cell, class) order."""
    keys = cell_keys(cells["tx"], cells["rx"], BAND_IDS[cells["band_i"]], cells["hour"],
                     cells["month"])
    rnd = _rounds(keys)
    parts = []
    for r in range(int(rnd.max(initial=-1)) + 1):
        # Only recorded spots are spots (below the decode floor nothing is reported); the
        # seeder's "decoded" filter states the same rule to the SQL.
        cols = _spot_columns(cells, spots, spots.recorded & (rnd[spots.cell] == r))
        parts.append(_aggregate_round(client, db, scratch, cols, filters, min_spots))
        in_round = np.flatnonzero(rnd == r)   # the row's cell: unique by key in its round
        k = keys[in_round]
        o = np.argsort(k)
        got = parts[-1]
        found = cell_keys(got["tx_grid_4"], got["rx_grid_4"], got["band"], got["hour"], got["month"])
        got["_cell"] = in_round[o[np.searchsorted(k[o], found)]]
    if not parts:  # no cells
        return {k: np.zeros(0, DTYPES[k]) for k in (*SIG_COLUMNS, "space_class")}
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(out.pop("_cell") * N_CLASSES + out["space_class"], kind="stable")
    return {k: v[order] for k, v in out.items()}


def _aggregate_round(client, db: DatabaseSettings, scratch: str, cols: dict,
                     filters: dict[str, str], min_spots: int) -> dict:
    name = f"`{db.database}`.`{scratch}`"
    cls = (f"{class_sql('avg_kp', KP_CLASS_EDGES)} * {len(SFI_CLASS_EDGES)} + "
           f"{class_sql('avg_sfi', SFI_CLASS_EDGES)}")
    sql = (f"SELECT *, toUInt8({cls}) AS space_class FROM "
           f"({signatures_sql(f'SELECT * FROM {name}', filters, min_spots)}) "
           f"SETTINGS max_threads = 1")
    with translating(db):
        client.command(f"TRUNCATE TABLE {name}")
        client.insert(scratch, list(cols.values()), column_names=list(cols),
                      column_oriented=True, database=db.database)
        res = client.query(sql).result_columns or [[] for _ in (*SIG_COLUMNS, 0)]
    return {k: np.asarray(v, dtype=DTYPES[k])
            for k, v in zip((*SIG_COLUMNS, "space_class"), res, strict=True)}
