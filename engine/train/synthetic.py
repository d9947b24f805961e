"""Synthetic signature rows for tests and benchmarks: no database needed.

The SNR is a simple, physically shaped function of the features plus noise, so a trained
model has something real to find: path loss with distance, high bands open in daylight and
low bands at night, a solar-flux benefit that grows with frequency, and a geomagnetic-storm
cost that grows with latitude. `sun_db` / `storm_db` scale those two effects (a negative
sun_db makes flux hurt, which drives the monotonic sun sidecar to its clamp floor).
"""

from __future__ import annotations

import numpy as np

from engine.bands import BANDS
from engine.data.rows import COLUMNS, SignatureRows
from engine.geo import haversine_km, mid_month_doy, solar_elevation_deg


def synthetic_rows(n: int, *, seed: int = 0, val_fraction: float = 0.2, stations: int = 48,
                   sun_db: float = 4.0, storm_db: float = 6.0, noise_db: float = 3.0) -> SignatureRows:
    rng = np.random.default_rng(seed)
    # Stations on 4-character grid centres (lat step 1, lon step 2), mid-latitudes and tropics.
    st_lat = np.floor(rng.uniform(-45, 65, stations)) + 0.5
    st_lon = np.floor(rng.uniform(-180, 180, stations) / 2) * 2 + 1.0
    tx = rng.integers(0, stations, n)
    rx = (tx + rng.integers(1, stations, n)) % stations  # never the same station
    tx_lat, tx_lon, rx_lat, rx_lon = st_lat[tx], st_lon[tx], st_lat[rx], st_lon[rx]

    band_idx = rng.integers(0, len(BANDS), n)
    band_id = np.array([b.id for b in BANDS], dtype=np.float64)[band_idx]
    mhz = np.array([b.freq_hz / 1e6 for b in BANDS])[band_idx]
    hour = rng.integers(0, 24, n).astype(np.float64)
    month = rng.integers(1, 13, n).astype(np.float64)
    sfi = rng.uniform(65.0, 260.0, n)
    kp = np.clip(rng.gamma(1.6, 1.3, n), 0.0, 9.0)

    dist = haversine_km(tx_lat, tx_lon, rx_lat, rx_lon)
    mid_lat = (tx_lat + rx_lat) / 2.0
    mid_lon = np.degrees(np.arctan2(np.sin(np.radians(tx_lon)) + np.sin(np.radians(rx_lon)),
                                    np.cos(np.radians(tx_lon)) + np.cos(np.radians(rx_lon))))
    day = np.clip(solar_elevation_deg(mid_lat, mid_lon, hour, mid_month_doy(month)) / 30.0, -1.0, 1.0)
    hi_band = np.clip((mhz - 7.0) / 21.0, 0.0, 1.0)        # 0 on 40m and below, 1 on 10m

    snr = (-10.0 - 6.0 * dist / 10000.0
           + 7.0 * day * (2.0 * hi_band - 1.0)                # high bands by day, low bands by night
           + sun_db * (0.4 + hi_band) * (sfi - 70.0) / 130.0  # more flux helps, most on high bands
           - storm_db * (0.5 + np.abs(mid_lat) / 60.0) * kp / 9.0  # storms cost, most near the poles
           + rng.normal(0.0, noise_db, n))
    spots = 5.0 + rng.poisson(np.exp(np.clip((snr + 25.0) / 8.0, 0.0, 4.0)))

    # Validation is path-level: a (tx, rx) pair lies wholly on one side, as the loader does it.
    pair_val = rng.random(stations * stations) < val_fraction
    is_val = pair_val[tx * stations + rx]

    cols = {"tx_lat": tx_lat, "tx_lon": tx_lon, "rx_lat": rx_lat, "rx_lon": rx_lon, "band": band_id,
            "hour": hour, "month": month, "median_snr": snr, "spot_count": spots, "avg_sfi": sfi,
            "avg_kp": kp, "is_val": is_val}
    return SignatureRows(np.ascontiguousarray(np.stack([cols[c] for c in COLUMNS], axis=1), dtype=np.float32))
