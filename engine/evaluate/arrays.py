"""The per-observation arrays every evaluation source returns (spot files, spot and signature
tables), in one place so that each source module depends on it and not on each other."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.grids import grids_to_latlon


@dataclass
class Observations:
    """One row per spot (level "spots") or per signature (level "signatures")."""

    level: str
    source: str
    tx_grid: np.ndarray     # (N,) S4, upper case
    rx_grid: np.ndarray
    band: np.ndarray        # (N,) int16 ADIF id 102..111
    hour: np.ndarray        # (N,) int8 UTC hour 0..23
    month: np.ndarray       # (N,) int8 1..12
    doy: np.ndarray | None  # (N,) int16 day of year; None = mid-month (signatures, as training)
    snr: np.ndarray         # (N,) float32 dB: the spot's SNR or the signature's median
    sfi: np.ndarray         # (N,) float32 observed F10.7
    kp: np.ndarray          # (N,) float32 Kp
    read: int = 0                                         # rows (lines) in the source
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows left out
    # Spot level: the same spots aggregated by engine.data.aggregation (None: not computed).
    signatures: Observations | None = None
    rules: dict = field(default_factory=dict)             # the aggregation's parameters
    notes: list[str] = field(default_factory=list)        # how the source was read

    def __len__(self) -> int:
        return int(self.snr.shape[0])

    def latlon(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        tla, tlo = grids_to_latlon(self.tx_grid)
        rla, rlo = grids_to_latlon(self.rx_grid)
        return tla, tlo, rla, rlo
