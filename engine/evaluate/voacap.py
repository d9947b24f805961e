"""Optional baseline: VOACAP (the `dvoacap` package, extra `ionis-tui[voacap]`) for each spot.

Assumptions, as VOACAP needs them: isotropic antennas at both ends, 0.2 W (23 dBm, the most
common WSPR power), man-made noise 145 dBW at 3 MHz (VOACAP's "residential"), minimum take-off
angle 3 degrees, short path, and the sunspot number from the SFI (SFI = 63.7 + 0.728 SSN +
0.00089 SSN^2, rounded to 10). VOACAP predicts the month's median: it ignores the day and Kp.
Its SNR is in a 1 Hz bandwidth; WSPR reports SNR in 2.5 kHz, so 10 log10(2500) = 34.0 dB is
subtracted. One VOACAP call per distinct (tx grid, rx grid, hour, month, SSN), all bands at once,
about 40 ms each: minutes for thousands of spots, not seconds.
"""

from __future__ import annotations

import numpy as np

from engine.bands import BY_ID
from engine.errors import InputError
from engine.evaluate.arrays import Observations

POWER_W = 0.2
MAN_MADE_NOISE = 145.0
WSPR_BANDWIDTH_DB = 10 * np.log10(2500.0)
ASSUMPTIONS = (f"VOACAP (dvoacap): isotropic antennas, {POWER_W:g} W, man-made noise {MAN_MADE_NOISE:g} "
               f"at 3 MHz, SSN from SFI, monthly median (no day, no Kp), SNR 1 Hz -> 2.5 kHz")


def ssn_from_sfi(sfi: np.ndarray) -> np.ndarray:
    """Invert SFI = 63.7 + 0.728 SSN + 0.00089 SSN^2 (SSN >= 0), rounded to 10."""
    s = np.maximum(np.asarray(sfi, dtype=np.float64) - 63.7, 0.0)
    ssn = (-0.728 + np.sqrt(0.728 ** 2 + 4 * 0.00089 * s)) / (2 * 0.00089)
    return np.round(ssn / 10.0) * 10.0


def voacap_db(o: Observations) -> np.ndarray:
    """VOACAP's predicted WSPR SNR (dB in 2.5 kHz) for every row of `o`."""
    try:
        from dvoacap.path_geometry import GeoPoint
        from dvoacap.prediction_engine import PredictionEngine
    except ImportError:
        raise InputError("--baseline voacap needs the optional package dvoacap: "
                         "pip install 'ionis-tui[voacap]'") from None
    tla, tlo, rla, rlo = o.latlon()
    ssn = ssn_from_sfi(o.sfi)
    keys = np.rec.fromarrays([o.tx_grid, o.rx_grid, o.hour, o.month, ssn], names="tx,rx,hour,month,ssn")
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    out = np.full(len(o), np.nan, dtype=np.float32)
    inverse = inverse.ravel()
    eng = PredictionEngine()
    eng.params.tx_power, eng.params.man_made_noise_at_3mhz = POWER_W, MAN_MADE_NOISE
    for g, i in enumerate(first):
        rows = np.flatnonzero(inverse == g)
        bands = np.unique(o.band[rows])
        eng.params.tx_location = GeoPoint(lat=np.deg2rad(tla[i]), lon=np.deg2rad(tlo[i]))
        eng.params.ssn, eng.params.month = float(ssn[i]), int(o.month[i])
        eng.predict(GeoPoint(lat=np.deg2rad(rla[i]), lon=np.deg2rad(rlo[i])), utc_time=(o.hour[i] + 0.5) / 24,
                    frequencies=[BY_ID[int(b)].freq_hz / 1e6 for b in bands])
        for b, pred in zip(bands, eng.predictions, strict=True):
            out[rows[o.band[rows] == b]] = pred.signal.snr_db - WSPR_BANDWIDTH_DB
    return out
