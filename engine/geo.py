"""Geography (grids: engine.grids): station presets, great-circle distance/bearing, solar elevation.

Every function is vectorised over numpy arrays and returns float32 where it returns arrays.
"""

from __future__ import annotations

import numpy as np

from engine.errors import InputError
from engine.grids import grid_to_latlon

EARTH_RADIUS_KM = 6371.0

# Reference stations (lat, lon) from the IONIS verification suite.
STATIONS: dict[str, tuple[float, float]] = {
    "W3": (39.14, -77.01), "G": (51.50, -0.12), "W6": (34.05, -118.24),
    "VE3": (43.65, -79.38), "KH6": (21.31, -157.86), "DL": (52.52, 13.40),
    "OH": (60.17, 24.94), "JA": (35.68, 139.69), "HL": (37.57, 126.98),
    "VU": (12.97, 77.59), "VK": (-33.87, 151.21), "ZL": (-41.29, 174.78),
    "ZS": (-33.93, 18.42), "5H": (-6.17, 35.74), "PY": (-23.55, -46.63),
    "LU": (-34.60, -58.38), "OX": (64.18, -51.72), "9J": (-15.42, 28.28),
}

def parse_location(text: str) -> tuple[float, float]:
    """A station preset (W3, G, VK...), a Maidenhead grid, or "lat,lon" (south/west negative)."""
    s = str(text).strip()
    if not s:
        raise InputError("empty location: give a grid (FN20), a preset (W3) or 'lat,lon'")
    if s.upper() in STATIONS:
        return STATIONS[s.upper()]
    if "," in s:
        parts = s.split(",")
        try:
            lat, lon = (float(p) for p in parts)
        except ValueError:
            raise InputError(f"{text!r} is not 'lat,lon' (e.g. -33.87,151.21)") from None
        if not (np.isfinite(lat) and np.isfinite(lon)):
            raise InputError(f"{text!r}: lat/lon must be finite numbers")
        if abs(lat) > 90:
            raise InputError(f"latitude {lat} is outside -90..90")
        if abs(lon) > 180:
            raise InputError(f"longitude {lon} is outside -180..180")
        return lat, lon
    try:
        return grid_to_latlon(s)
    except InputError:
        raise InputError(
            f"unknown location {text!r}: use a Maidenhead grid (FN20), a preset "
            f"({', '.join(STATIONS)}) or 'lat,lon'"
        ) from None


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def bearing_deg(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Initial great-circle bearing from point 1 to point 2, degrees in [0, 360)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    x = np.sin(dlmb) * np.cos(p2)
    y = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dlmb)
    return np.degrees(np.arctan2(x, y)) % 360.0


def mid_month_doy(month) -> np.ndarray:
    """Day of year used for signatures, which carry only a month: (month - 1) * 30.5 + 15."""
    return (np.asarray(month, dtype=np.float64) - 1.0) * 30.5 + 15.0


def day_of_year(month, day=None):
    """The one rule for the day a prediction uses: the given day of year, else mid-month (the
    signatures carry only a month). A scalar in gives a float; arrays give an array."""
    d = mid_month_doy(month) if day is None else np.asarray(day, dtype=np.float64)
    return float(d) if np.ndim(d) == 0 else d


def solar_elevation_deg(lat, lon, hour, doy) -> np.ndarray:
    """Solar elevation in degrees for UTC hour and day of year (positive = daylight)."""
    dec = np.radians(-23.44 * np.cos(np.radians(360.0 / 365.0 * (np.asarray(doy) + 10.0))))
    ha = np.radians((np.asarray(hour) + np.asarray(lon) / 15.0 - 12.0) * 15.0)
    la = np.radians(lat)
    s = np.sin(la) * np.sin(dec) + np.cos(la) * np.cos(dec) * np.cos(ha)
    return np.degrees(np.arcsin(np.clip(s, -1.0, 1.0)))


def solar_declination_deg(doy) -> np.ndarray:
    """Solar declination (degrees) on day of year doy: +23.44 at the June solstice."""
    return -23.44 * np.cos(np.radians(360.0 / 365.0 * (np.asarray(doy, dtype=np.float64) + 10.0)))
