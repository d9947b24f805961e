"""WSPR bands: ids, dial frequencies and the per-band SNR normalisation constants."""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import InputError


@dataclass(frozen=True)
class Band:
    id: int          # ADIF-style id, 102..111
    name: str        # "20m"
    freq_hz: int     # WSPR dial frequency
    mhz: int         # integer MHz as in wspr.live's band column
    snr_mean: float  # dB, WSPR per-band normalisation
    snr_std: float   # dB per sigma on this band


BANDS: tuple[Band, ...] = (
    Band(102, "160m", 1_836_600, 1, -18.04, 6.9),
    Band(103, "80m", 3_568_600, 3, -17.90, 6.9),
    Band(104, "60m", 5_287_200, 5, -17.60, 7.1),
    Band(105, "40m", 7_038_600, 7, -17.34, 6.6),
    Band(106, "30m", 10_138_700, 10, -18.07, 6.5),
    Band(107, "20m", 14_097_100, 14, -17.53, 6.7),
    Band(108, "17m", 18_104_600, 18, -18.35, 7.0),
    Band(109, "15m", 21_094_600, 21, -18.32, 6.6),
    Band(110, "12m", 24_924_600, 24, -18.76, 6.6),
    Band(111, "10m", 28_124_600, 28, -17.86, 6.5),
)
BY_ID = {b.id: b for b in BANDS}
BY_NAME = {b.name: b for b in BANDS}
BY_MHZ = {b.mhz: b for b in BANDS}
BAND_NAMES = tuple(b.name for b in BANDS)
SIGMA_DB = 6.7  # the flat dB-per-sigma the original IONIS uses for differences


def hf_band_sql(column: str = "band") -> str:
    """SQL true when `column` holds one of the model's HF band ids: the one rule for the spot
    build, the bundle import and the rows a run loads."""
    return f"{column} IN ({', '.join(str(i) for i in sorted(BY_ID))})"


def parse_band(text: str | int) -> Band:
    """Accept "20m", "20", 107 or 14 (MHz); refuse anything outside 160m-10m."""
    s = str(text).strip().lower()
    if s.endswith("m") and s[:-1].isdigit():
        if s in BY_NAME:
            return BY_NAME[s]
    elif s.isdigit():
        n = int(s)
        if n in BY_ID:
            return BY_ID[n]
        if f"{n}m" in BY_NAME:
            return BY_NAME[f"{n}m"]
    raise InputError(f"unknown band {text!r}: use one of {', '.join(BAND_NAMES)}")
