"""The peer's rule-based PhysicsOverrideLayer, as the KI7MT group judges "with override".

A prediction above the clamp (-2.0 sigma) is set to -2.0 sigma when, with each end's solar
elevation from engine.geo (the one used for the V22 features):
  A. f >= 21 MHz and both ends below -6 degrees (both past civil twilight: no F2 above 21 MHz);
  B. f >= 21 MHz and the transmitter below -18 degrees (past astronomical twilight);
  C. f <= 7.5 MHz, both ends above 0 degrees and the path longer than 1500 km (daytime D-layer).
It is a post-processing rule, never part of the model: the raw verdicts are the model's own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.geo import day_of_year, haversine_km, solar_elevation_deg
from engine.predict import Path_

CLAMP_SIGMA = -2.0
HIGH_MHZ, DARK_BOTH_DEG, DARK_TX_DEG = 21.0, -6.0, -18.0
LOW_MHZ, DAY_DEG, DLAYER_KM = 7.5, 0.0, 1500.0


def override_sigma(sigma: Sequence[float] | np.ndarray, paths: Sequence[Path_]) -> tuple[np.ndarray, np.ndarray]:
    """(sigma after the override, which predictions it clamped), one entry per path."""
    s = np.asarray(sigma, dtype=np.float64)
    fired = np.zeros(s.shape, dtype=bool)
    for i, p in enumerate(paths):
        doy = day_of_year(p.month, p.day)
        tx = float(solar_elevation_deg(p.tx[0], p.tx[1], p.hour, doy))
        rx = float(solar_elevation_deg(p.rx[0], p.rx[1], p.hour, doy))
        mhz = p.band.freq_hz / 1e6
        km = float(haversine_km(p.tx[0], p.tx[1], p.rx[0], p.rx[1]))
        high = mhz >= HIGH_MHZ and ((tx < DARK_BOTH_DEG and rx < DARK_BOTH_DEG) or tx < DARK_TX_DEG)
        low = mhz <= LOW_MHZ and tx > DAY_DEG and rx > DAY_DEG and km > DLAYER_KM
        fired[i] = bool(s[i] > CLAMP_SIGMA and (high or low))
    return np.where(fired, CLAMP_SIGMA, s), fired
