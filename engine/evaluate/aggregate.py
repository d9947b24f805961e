"""Spots aggregated like the signatures the model trains on: one row per (tx grid, rx grid,
band, UTC hour, month) with at least `min_spots` spots; the observed value is the median SNR,
the conditions are the group's mean SFI and Kp and the mid-month day (as in training)."""

from __future__ import annotations

import numpy as np

from engine.evaluate.observations import Observations


def _medians(inv: np.ndarray, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median of `values` within each group (inverse index `inv`), vectorised via one sort."""
    order = np.lexsort((values, inv))
    v = values[order].astype(np.float64)
    start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    lo = start + (counts - 1) // 2
    hi = start + counts // 2
    return ((v[lo] + v[hi]) / 2).astype(np.float32)


def aggregate(obs: Observations, min_spots: int = 3) -> Observations:
    """Signature-level Observations from spot-level ones (dropped groups are counted)."""
    keys = np.rec.fromarrays([obs.tx_grid, obs.rx_grid, obs.band, obs.hour, obs.month],
                             names="tx,rx,band,hour,month")
    uniq, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    med = _medians(inv, obs.snr, counts)
    sfi = (np.bincount(inv, obs.sfi.astype(np.float64)) / counts).astype(np.float32)
    kp = (np.bincount(inv, obs.kp.astype(np.float64)) / counts).astype(np.float32)
    keep = counts >= min_spots
    u = uniq[keep]
    return Observations(
        "signatures", obs.source, u["tx"], u["rx"], u["band"].astype(np.int16), u["hour"].astype(np.int8),
        u["month"].astype(np.int8), None, med[keep], sfi[keep], kp[keep], read=len(uniq),
        dropped={f"fewer_than_{min_spots}_spots": int((~keep).sum())}, checks={})
