"""Maidenhead grids, the one home of their rules: what a valid locator is, the 4-character
square of a point, a square's centre, in Python (scalar and numpy) and in ClickHouse SQL.
Every reader, the loader, the build, the seeder and the evaluation use these."""

from __future__ import annotations

import re

import numpy as np

from engine.errors import InputError

# A spot's locator: 4 or 6 characters (field, square, optional subsquare), either case.
LOCATOR_RE = "^[A-Ra-r]{2}[0-9]{2}([A-Xa-x]{2})?$"
# A signature's square: exactly 4 characters.
SQUARE_RE = "^[A-Ra-r]{2}[0-9]{2}$"
_ANY = re.compile(r"^[A-R]{2}(?:[0-9]{2}(?:[A-X]{2})?)?$")  # 2, 4 or 6 (typed locations)
N_SQUARES = 18 * 18 * 100


def grid_to_latlon(grid: str) -> tuple[float, float]:
    """Centre of a 2-, 4- or 6-character Maidenhead square."""
    g = grid.strip()
    g = g[:2].upper() + g[2:4] + g[4:6].upper()
    if not _ANY.match(g):
        raise InputError(f"{grid!r} is not a Maidenhead grid (e.g. FN20, JO01, IO91wm)")
    lon = (ord(g[0]) - 65) * 20.0 - 180.0
    lat = (ord(g[1]) - 65) * 10.0 - 90.0
    if len(g) == 2:
        return lat + 5.0, lon + 10.0
    lon += int(g[2]) * 2.0
    lat += int(g[3]) * 1.0
    if len(g) == 4:
        return lat + 0.5, lon + 1.0
    lon += (ord(g[4]) - 65) * (2.0 / 24)
    lat += (ord(g[5]) - 65) * (1.0 / 24)
    return lat + 0.5 / 24, lon + 1.0 / 24


def latlon_to_grid4(lat: float, lon: float) -> str:
    return grid4(np.array([lat]), np.array([lon]))[0].decode()


def _bytes(grids) -> np.ndarray:
    return np.char.upper(np.asarray(grids).astype("S4")).view(np.uint8).reshape(-1, 4)


def grids_to_latlon(grids) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised centre of 4-character squares from an array of 4-byte strings (S4 or str)."""
    b = _bytes(grids).astype(np.float32)
    lon = (b[:, 0] - 65) * 20.0 - 180.0 + (b[:, 2] - 48) * 2.0 + 1.0
    lat = (b[:, 1] - 65) * 10.0 - 90.0 + (b[:, 3] - 48) + 0.5
    return lat.astype(np.float32), lon.astype(np.float32)


def grid4(lat, lon) -> np.ndarray:
    """Vectorised 4-character Maidenhead square (S4 bytes) of each point."""
    lo = np.clip(np.asarray(lon, dtype=np.float64) + 180.0, 0.0, 359.999)
    la = np.clip(np.asarray(lat, dtype=np.float64) + 90.0, 0.0, 179.999)
    chars = np.stack([65 + lo // 20, 65 + la // 10, 48 + (lo % 20) // 2, 48 + la % 10], axis=1)
    return chars.astype(np.uint8).view("S4").ravel()


def grid_code(grids) -> np.ndarray:
    """A square as a number 0..N_SQUARES-1 (int64), for sort keys."""
    b = _bytes(grids).astype(np.int64)
    return (((b[:, 0] - 65) * 18 + (b[:, 1] - 65)) * 10 + (b[:, 2] - 48)) * 10 + (b[:, 3] - 48)


# ---- SQL ---------------------------------------------------------------------------------
def grid4_sql(loc: str) -> str:
    """The 4-character square (upper case) of a locator column."""
    return f"upper(substring(toString({loc}), 1, 4))"


def grid_latlon_sql(g4: str) -> tuple[str, str]:
    """Centre of a 4-character square column, float32 (the same as grids_to_latlon)."""
    g = f"upper(toString({g4}))"
    c = [f"ascii(substring({g}, {i}, 1))" for i in (1, 2, 3, 4)]
    lat = f"toFloat32(({c[1]} - 65) * 10 - 90 + ({c[3]} - 48) + 0.5)"
    lon = f"toFloat32(({c[0]} - 65) * 20 - 180 + ({c[2]} - 48) * 2 + 1)"
    return lat, lon


def valid_sql(col: str, pattern: str = SQUARE_RE) -> str:
    return f"match(toString({col}), '{pattern}')"
