"""Demo signatures: simulate WSPR spots from the ground truth and aggregate them exactly the
way the real table is built, then write them to ClickHouse.

Simulation, per batch of "cells" (TX grid, RX grid, band, UTC hour, month):
  1. stations are drawn from regional clusters (mostly North America, Europe, Japan,
     Australia), cells keep pairs at least MIN_DISTANCE_KM apart (grid centres);
  2. each cell gets a number of attempted spots; each spot falls on a random OBSERVED day
     of that month (2008..latest observed) and carries that day's F10.7 and the Kp of its
     3-hour block (engine.demo.space_weather);
  3. spot SNR = truth (engine.demo.truth, at the cell's mid-month day and the middle of its
     hour) + N(0, FADING_DB), rounded to whole dB like WSPR reports; spots below
     DECODE_FLOOR_DB are never recorded (the survivorship bias of real data);
  4. the spots go through a scratch table into engine.data.aggregation's SQL, the code that
     `data build` and `evaluate --group signatures` run (engine.demo.seed_sql): per cell and
     Kp/SFI class, median, count (buckets with fewer than min_spots spots are dropped:
     [ingest] min_spots, as `data build`), std, reliability (share > -20 dB), avg SFI/Kp,
     distance and azimuth. The seeder's own input rules (the decode floor, the path-length
     minimum) are that SQL's filters (SEED_FILTERS), reported in the table's provenance.
The simulation is vectorised numpy; the same seed gives the same rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.bands import BANDS
from engine.data.aggregation import (
    KP_CLASS_EDGES,
    MAX_DISTANCE_KM,
    N_CLASSES,
    SFI_CLASS_EDGES,
    SNR_RANGE,
    rules,
)
from engine.data.client import translating
from engine.data.provenance import Provenance, guard_replace
from engine.data.schema import create_table_sql
from engine.data.swap import staging_name, swap_in
from engine.data.write_lock import write_lock
from engine.demo.seed_sql import aggregate_sql, cell_keys, create_scratch
from engine.demo.space_weather import ObservedDays, observed_days
from engine.demo.truth import (
    DECODE_FLOOR_DB,
    FADING_DB,
    POWER_REF_DBM,
    condition_terms,
    path_geometry,
    snr_from_terms,
)
from engine.errors import DataError, InputError
from engine.geo import haversine_km, mid_month_doy
from engine.grids import grid4, grids_to_latlon
from engine.settings import DatabaseSettings, IngestSettings

Progress = Callable[[int, int], None]

MIN_DISTANCE_KM = 100.0   # same-square pairs (0 km) excluded; short NVIS paths kept
SNR_MAX_DB = SNR_RANGE[1]  # WSPR reports whole dB; nothing real is stronger than this
N_STATIONS = 6000          # station population per seed
CELLS_PER_BATCH = 200_000
SPOT_CHUNK = 65_536
INSERT_CHUNK = 250_000
# The seeder's input rules, as filters of engine.data.aggregation.signatures_sql: a spot below
# the decode floor is never recorded; cells are drawn at least MIN_DISTANCE_KM apart.
SEED_FILTERS = {"decoded": f"snr >= {DECODE_FLOOR_DB:g}",
                "distance": f"distance_km >= {MIN_DISTANCE_KM:g}"}

# Regional clusters: (lat, lon, sd_lat, sd_lon, share of stations). WSPR activity is
# dominated by North America and Europe, then Japan and Australia.
CLUSTERS = (
    (40.0, -78.0, 4.0, 6.0, 0.20),    # NA east
    (40.0, -95.0, 5.0, 8.0, 0.08),    # NA central
    (37.0, -120.0, 4.0, 3.0, 0.08),   # NA west
    (51.0, 5.0, 4.0, 8.0, 0.28),      # EU west/central
    (58.0, 20.0, 4.0, 10.0, 0.07),    # EU north/east
    (42.0, 12.0, 3.0, 8.0, 0.05),     # EU south
    (36.0, 138.0, 2.5, 3.0, 0.07),    # JA
    (-33.0, 149.0, 3.0, 4.0, 0.05),   # VK east
    (-40.0, 175.0, 3.0, 2.0, 0.01),   # ZL
    (-25.0, -50.0, 6.0, 6.0, 0.03),   # South America
    (-30.0, 25.0, 3.0, 4.0, 0.01),    # ZS
    (25.0, 110.0, 8.0, 12.0, 0.03),   # rest of Asia
    (66.0, 0.0, 3.0, 30.0, 0.02),     # Arctic (OX, TF, LA/SM/OH north)
    (20.0, -157.0, 1.0, 2.0, 0.01),   # KH6 / Pacific
)
# Share of WSPR activity per band, in BANDS order (160m .. 10m).
BAND_SHARE = (0.04, 0.09, 0.03, 0.20, 0.13, 0.24, 0.07, 0.07, 0.04, 0.09)

# Transmitter power (dBm) of WSPR spots and its share (most run 200 mW to 10 W).
POWER_DBM = (20.0, 23.0, 27.0, 30.0, 33.0, 37.0, 40.0)
POWER_SHARE = (0.05, 0.25, 0.08, 0.17, 0.10, 0.20, 0.15)


def activity_share(local_hour) -> np.ndarray:
    """Share of stations on the air by local solar hour: 1.0 at 14 h, 0.25 at 2 h (people sleep)."""
    return 0.625 + 0.375 * np.cos(2.0 * np.pi * (np.asarray(local_hour) - 14.0) / 24.0)


COLUMNS = ("tx_grid_4", "rx_grid_4", "band", "hour", "month", "median_snr", "spot_count",
           "snr_std", "reliability", "avg_sfi", "avg_kp", "avg_distance", "avg_azimuth")


class SeedCancelled(DataError):
    """cancel() returned True while generating or writing demo data."""


def grid4_center(grids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Square centres in float64 (the exact float32 values of engine.grids, widened)."""
    lat, lon = grids_to_latlon(grids)
    return lat.astype(np.float64), lon.astype(np.float64)


def stations(rng: np.random.Generator, n: int = N_STATIONS) -> np.ndarray:
    """Grid squares (S4) of n stations drawn from the regional clusters."""
    share = np.array([c[4] for c in CLUSTERS])
    which = rng.choice(len(CLUSTERS), size=n, p=share / share.sum())
    c = np.array([c[:4] for c in CLUSTERS])[which]
    lat = np.clip(c[:, 0] + rng.normal(size=n) * c[:, 2], -85.0, 85.0)
    lon = (c[:, 1] + rng.normal(size=n) * c[:, 3] + 180.0) % 360.0 - 180.0
    return grid4(lat, lon)


@dataclass
class SpotBatch:
    """Raw simulated spots of one batch (for tests and the survivorship analysis)."""

    cell: np.ndarray      # (S,) index into the batch's cells
    true_db: np.ndarray   # (S,) truth before fading
    snr: np.ndarray       # (S,) reported SNR (whole dB, before the floor)
    sfi: np.ndarray
    kp: np.ndarray
    recorded: np.ndarray  # (S,) bool: at or above the decode floor


def _draw_cells(rng, pool: np.ndarray, n: int) -> dict:
    tx = pool[rng.integers(0, len(pool), n)]
    rx = pool[rng.integers(0, len(pool), n)]
    tla, tlo = grid4_center(tx)
    rla, rlo = grid4_center(rx)
    d = haversine_km(tla, tlo, rla, rlo)
    keep = d >= MIN_DISTANCE_KM
    band_i = rng.choice(len(BANDS), size=n, p=np.array(BAND_SHARE) / sum(BAND_SHARE))
    cells = {
        "tx": tx, "rx": rx, "tx_lat": tla, "tx_lon": tlo, "rx_lat": rla, "rx_lon": rlo,
        "distance": d, "band_i": band_i.astype(np.int64),
        "hour": rng.integers(0, 24, n), "month": rng.integers(1, 13, n),
    }
    return {k: v[keep] for k, v in cells.items()}


def simulate_spots(rng, cells: dict, days: ObservedDays) -> SpotBatch:
    """Attempted spots for each cell: real day's SFI/Kp, truth + fading, decode floor."""
    n = len(cells["hour"])
    # Attempts per cell: lognormal, median ~12 at the TX's busiest local hour, a long tail of
    # busy paths; fewer people transmit at local night (activity_share).
    act = activity_share(cells["hour"] + 0.5 + cells["tx_lon"] / 15.0)
    attempts = np.clip(np.rint(np.exp(rng.normal(2.5, 0.8, n)) * act), 1, 400).astype(np.int64)
    cell = np.repeat(np.arange(n), attempts)
    # A random observed day of the cell's month (any year), and that day's space weather.
    order = np.argsort(days.month, kind="stable")
    starts = np.searchsorted(days.month[order], np.arange(1, 13))
    counts = np.bincount(days.month, minlength=13)[1:]
    m = cells["month"][cell] - 1
    day = order[starts[m] + (rng.random(len(cell)) * counts[m]).astype(np.int64)]
    sfi = days.sfi[day].astype(np.float64)
    kp = days.kp[day, cells["hour"][cell] // 3].astype(np.float64)

    geo = path_geometry(cells["tx_lat"], cells["tx_lon"], cells["rx_lat"], cells["rx_lon"])
    freq = np.array([b.freq_hz for b in BANDS], dtype=np.float64)[cells["band_i"]]
    terms = condition_terms(geo, freq, cells["hour"] + 0.5, mid_month_doy(cells["month"]))
    true_db = np.empty(len(cell))
    for a in range(0, len(cell), SPOT_CHUNK):  # chunks small enough to stay in CPU cache
        c = cell[a:a + SPOT_CHUNK]
        true_db[a:a + SPOT_CHUNK] = snr_from_terms({k: v[..., c] for k, v in terms.items()},
                                                   sfi[a:a + SPOT_CHUNK], kp[a:a + SPOT_CHUNK])
    # Each spot's transmitter power (dBm) from the WSPR mix; SNR follows it dB for dB.
    power = rng.choice(np.array(POWER_DBM), size=len(cell), p=np.array(POWER_SHARE) / sum(POWER_SHARE))
    true_db += power - POWER_REF_DBM
    snr = np.minimum(np.rint(true_db + rng.normal(0.0, FADING_DB, len(cell))), SNR_MAX_DB)
    return SpotBatch(cell=cell, true_db=true_db, snr=snr, sfi=sfi, kp=kp,
                     recorded=snr >= DECODE_FLOOR_DB)


def seed_rules(min_spots: int) -> dict:
    """The aggregation's parameters as the seeder applies them: the build's key, classes,
    minimum and statistics, over spots that passed the seeder's filters (SEED_FILTERS: the
    decode floor, the path-length minimum), not the build's (no call signs: no moving-TX rule)."""
    return {**rules(min_spots), "snr_db": [int(DECODE_FLOOR_DB), int(SNR_MAX_DB)],
            "distance_km": [int(MIN_DISTANCE_KM), MAX_DISTANCE_KM], "moving_tx_grids_per_day": None,
            "filters": dict(SEED_FILTERS)}


def default_min_spots() -> int:
    """The build's minimum from the settings' defaults ([ingest] min_spots)."""
    return IngestSettings().min_spots


def generate_signatures(client, db: DatabaseSettings, n: int, seed: int,
                        progress: Progress | None = None, cancel: Callable[[], bool] | None = None,
                        min_spots: int | None = None) -> dict[str, np.ndarray]:
    """n demo signatures as numpy columns (COLUMNS order, schema dtypes; grids as S4),
    aggregated by the build's SQL in a scratch table of db.database (dropped afterwards).

    Deterministic for (n, seed). progress(rows_done, n) after each batch; cancel() returning
    True raises SeedCancelled (a DataError)."""
    n = int(n)
    if n < 1:
        raise InputError(f"number of demo rows must be >= 1, got {n}")
    if int(seed) < 0:
        raise InputError(f"seed must be >= 0, got {seed}")
    min_spots = default_min_spots() if min_spots is None else int(min_spots)
    scratch = staging_name(db, "seed_spots")
    with translating(db):
        client.command(f"CREATE DATABASE IF NOT EXISTS `{db.database}`")
    create_scratch(client, db, scratch)
    try:
        return _generate(client, db, scratch, n, seed, progress, cancel, min_spots)
    finally:
        try:
            client.command(f"DROP TABLE IF EXISTS `{db.database}`.`{scratch}` SYNC")
        except Exception:  # must not hide the original error
            pass


def _generate(client, db: DatabaseSettings, scratch: str, n: int, seed: int,
              progress: Progress | None, cancel: Callable[[], bool] | None,
              min_spots: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(int(seed))
    days = observed_days()
    pool = stations(rng)
    parts: list[dict] = []
    have = 0            # rows generated so far (before removing repeated buckets)
    yield_share = 0.35  # signatures per drawn cell; updated from each batch
    if progress:
        progress(0, n)
    while True:
        while have < n:
            if cancel is not None and cancel():
                raise SeedCancelled(f"demo generation cancelled after {have:,} of {n:,} rows")
            # Draw about as many cells as still needed (small requests stay fast); depends
            # only on earlier batches, so the output stays a function of (n, seed).
            want = int((n - have) / max(yield_share, 0.05) * 1.15) + 1000
            drawn = min(CELLS_PER_BATCH, want)
            cells = _draw_cells(rng, pool, drawn)
            rows = aggregate_sql(client, db, scratch, cells, simulate_spots(rng, cells, days),
                                 SEED_FILTERS, min_spots)
            yield_share = max(len(rows["hour"]), 1) / drawn
            parts.append(rows)
            have += len(rows["hour"])
            if progress:
                progress(min(have, n), n)
        # One row per bucket, like GROUP BY: a bucket drawn again later (rare) keeps its
        # first row. One sort at the end instead of a membership test per batch.
        cols = {k: np.concatenate([p[k] for p in parts]) for k in (*COLUMNS, "space_class")}
        _, first = np.unique(_row_keys(cols), return_index=True)
        if len(first) >= n:
            keep = np.sort(first)[:n]
            return {k: cols[k][keep] for k in COLUMNS}
        parts, have = [{k: v[np.sort(first)] for k, v in cols.items()}], len(first)


def _row_keys(rows: dict) -> np.ndarray:
    key = cell_keys(rows["tx_grid_4"], rows["rx_grid_4"], rows["band"], rows["hour"], rows["month"])
    return key * N_CLASSES + rows["space_class"]


def seed_demo(client, db: DatabaseSettings, rows: int, seed: int,
              progress: Progress | None = None, cancel: Callable[[], bool] | None = None,
              force: bool = False, min_spots: int | None = None) -> int:
    """Generate `rows` demo signatures and make them the content of db's table.

    Rows go to a staging table first, which then replaces the target in one EXCHANGE that
    also carries the table's provenance (kind "demo", seed, rows, space-weather span): a
    cancel (SeedCancelled) or an error leaves the old table untouched, never half-written.
    A target holding rows that `data seed` did not write is refused unless force=True, so
    real data is never overwritten by accident. progress(done, total) counts rows generated
    plus rows written (total = 2 * rows). min_spots: [ingest] min_spots (None: its default).
    Returns the number of rows written."""
    rows = int(rows)
    min_spots = default_min_spots() if min_spots is None else int(min_spots)
    if rows < 1:
        raise InputError(f"number of demo rows must be >= 1, got {rows}")
    with write_lock(client, db, db.table, "data seed"):
        _seed(client, db, rows, seed, progress, cancel, force, min_spots)
    return rows


def _seed(client, db: DatabaseSettings, rows: int, seed: int, progress: Progress | None,
          cancel: Callable[[], bool] | None, force: bool, min_spots: int) -> None:
    existing = guard_replace(client, db, ("demo",), force, "`data seed`")
    total = 2 * rows
    gen_progress = (lambda done, _n: progress(done, total)) if progress else None
    cols = generate_signatures(client, db, rows, seed, progress=gen_progress, cancel=cancel,
                               min_spots=min_spots)
    first, last = demo_span()
    prov = Provenance("demo", {"seed": int(seed), "rows": rows, "space_weather_first_day": first,
                               "space_weather_last_day": last, "rules": seed_rules(min_spots),
                               "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    _write_staged(client, db, cols, rows, progress, cancel, existing is not None, prov)


def _write_staged(client, db: DatabaseSettings, cols: dict, rows: int, progress: Progress | None,
                  cancel: Callable[[], bool] | None, target_exists: bool, prov: Provenance) -> None:
    """Insert the columns into a staging table, then swap it in (see seed_demo)."""
    total = 2 * rows
    staging = staging_name(db, "seeding")
    name = f"`{db.database}`.`{staging}`"
    with translating(db):
        client.command(f"CREATE DATABASE IF NOT EXISTS `{db.database}`")
        client.command(f"DROP TABLE IF EXISTS {name} SYNC")
        client.command(create_table_sql(db, staging))
    try:
        for a in range(0, rows, INSERT_CHUNK):
            if cancel is not None and cancel():
                raise SeedCancelled(f"demo seeding cancelled after writing {a:,} of {rows:,} "
                                    f"rows; {db.database}.{db.table} is unchanged")
            with translating(db):
                client.insert(staging, [cols[k][a:a + INSERT_CHUNK] for k in COLUMNS],
                              column_names=list(COLUMNS), column_oriented=True,
                              database=db.database)
            if progress:
                progress(rows + min(a + INSERT_CHUNK, rows), total)
        with translating(db):
            # One part: reads in storage order are then the same every time.
            client.command(f"OPTIMIZE TABLE {name} FINAL")
            swap_in(client, db, staging, target_exists, prov)
    finally:
        # After the swap the staging name holds the OLD rows; after a failure, partial new
        # ones. Either way it goes; a failure here must not hide the original error.
        try:
            client.command(f"DROP TABLE IF EXISTS {name} SYNC")
        except Exception:
            pass


def demo_span() -> tuple[str, str]:
    """First and last observed day the demo draws space weather from."""
    d = observed_days()
    return d.first, d.last


__all__ = ["COLUMNS", "KP_CLASS_EDGES", "N_CLASSES", "SEED_FILTERS", "SFI_CLASS_EDGES",
           "SeedCancelled", "SpotBatch", "activity_share", "default_min_spots", "demo_span",
           "generate_signatures", "grid4", "seed_demo", "seed_rules", "simulate_spots", "stations"]
