"""IONIS input features (V22: 17 inputs, V20: 13), vectorised over numpy arrays.

The last two columns of every feature set are the sidecar inputs (sfi, kp_penalty); the
trunk sees only the columns before them (the "starvation protocol").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.geo import bearing_deg, day_of_year, haversine_km, solar_elevation_deg


@dataclass(frozen=True)
class FeatureSet:
    name: str
    columns: tuple[str, ...]

    @property
    def input_dim(self) -> int:
        return len(self.columns)

    @property
    def trunk_dim(self) -> int:
        return len(self.columns) - 2

    @property
    def sfi_idx(self) -> int:
        return len(self.columns) - 2

    @property
    def kp_idx(self) -> int:
        return len(self.columns) - 1


_COMMON = ("distance", "freq_log", "hour_sin", "hour_cos", "az_sin", "az_cos",
           "lat_diff", "midpoint_lat", "season_sin", "season_cos")
V22 = FeatureSet("v22", _COMMON + ("vertex_lat", "tx_solar_dep", "rx_solar_dep",
                                   "freq_x_tx_dark", "freq_x_rx_dark", "sfi", "kp_penalty"))
V20 = FeatureSet("v20", _COMMON + ("day_night_est", "sfi", "kp_penalty"))
FEATURE_SETS = {"v22": V22, "v20": V20}
BY_TRUNK_DIM = {fs.trunk_dim: fs for fs in FEATURE_SETS.values()}


def freq_centered(freq_hz) -> np.ndarray:
    mhz = np.asarray(freq_hz, dtype=np.float64) / 1e6
    return np.where(mhz >= 10.0, (mhz - 10.0) / 18.0, (mhz - 10.0) / 8.2)


def sfi_feature(sfi) -> np.ndarray:
    return np.asarray(sfi, dtype=np.float64) / 300.0


def kp_feature(kp) -> np.ndarray:
    return 1.0 - np.asarray(kp, dtype=np.float64) / 9.0


def build_features(
    feature_set: FeatureSet | str,
    tx_lat, tx_lon, rx_lat, rx_lon, freq_hz, hour, month, sfi, kp, doy=None,
) -> np.ndarray:
    """Feature matrix (N, D) float32. doy=None means signature data: use mid-month days."""
    fs = FEATURE_SETS[feature_set] if isinstance(feature_set, str) else feature_set
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in
                                   (tx_lat, tx_lon, rx_lat, rx_lon, freq_hz, hour, month, sfi, kp)))
    tx_lat, tx_lon, rx_lat, rx_lon, freq_hz, hour, month, sfi, kp = (np.atleast_1d(a) for a in arrays)
    n = tx_lat.shape[0]
    out = np.empty((n, fs.input_dim), dtype=np.float32)

    az = np.radians(bearing_deg(tx_lat, tx_lon, rx_lat, rx_lon))
    hr = 2 * np.pi * hour / 24.0
    season = 2 * np.pi * month / 12.0
    out[:, 0] = haversine_km(tx_lat, tx_lon, rx_lat, rx_lon) / 20000.0
    out[:, 1] = np.log10(freq_hz) / 8.0
    out[:, 2] = np.sin(hr)
    out[:, 3] = np.cos(hr)
    out[:, 4] = np.sin(az)
    out[:, 5] = np.cos(az)
    out[:, 6] = np.abs(tx_lat - rx_lat) / 180.0
    out[:, 7] = (tx_lat + rx_lat) / 2.0 / 90.0
    out[:, 8] = np.sin(season)
    out[:, 9] = np.cos(season)
    if fs is V22:
        day = np.broadcast_to(np.asarray(day_of_year(month, doy), dtype=np.float64), (n,))
        vx = np.abs(np.sin(az) * np.cos(np.radians(tx_lat)))
        out[:, 10] = np.degrees(np.arccos(np.clip(vx, 0.0, 1.0))) / 90.0
        tx_el = solar_elevation_deg(tx_lat, tx_lon, hour, day) / 90.0
        rx_el = solar_elevation_deg(rx_lat, rx_lon, hour, day) / 90.0
        fc = freq_centered(freq_hz)
        out[:, 11] = tx_el
        out[:, 12] = rx_el
        out[:, 13] = fc * tx_el
        out[:, 14] = fc * rx_el
    else:
        mid_lon = (tx_lon + rx_lon) / 2.0
        out[:, 10] = np.cos(2 * np.pi * (hour + mid_lon / 15.0) / 24.0)
    out[:, fs.sfi_idx] = sfi_feature(sfi)
    out[:, fs.kp_idx] = kp_feature(kp)
    return out
