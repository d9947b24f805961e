"""Signature rows -> device tensors for training: features, Z-score target, weights, split.

Everything is checked here, once, so the training loop never meets bad data: a NaN in the
input becomes a clear DataError naming the column instead of a NaN loss an hour later.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.bands import BANDS
from engine.data.rows import COL, SignatureRows
from engine.errors import DataError
from engine.features import FeatureSet, build_features

# Valid ranges of the input columns; anything outside is a loader bug or a broken table.
_RANGES = {"tx_lat": (-90, 90), "rx_lat": (-90, 90), "tx_lon": (-180, 180), "rx_lon": (-180, 180),
           "hour": (0, 23), "month": (1, 12), "spot_count": (0, float("inf")),
           "avg_sfi": (0, 1000), "avg_kp": (0, 9)}
_BAND_IDS = np.array([b.id for b in BANDS], dtype=np.float32)
_BAND_MEAN = np.array([b.snr_mean for b in BANDS], dtype=np.float64)
_BAND_STD = np.array([b.snr_std for b in BANDS], dtype=np.float64)


@dataclass
class Split:
    """One side of the split, already on the training device."""

    x: torch.Tensor    # (N, D) features
    y: torch.Tensor    # (N,) target in sigma (per-band Z-score of median SNR)
    w: torch.Tensor    # (N,) spot_count weights, mean 1 on this side
    std: torch.Tensor  # (N,) dB per sigma of each row's band, to express errors in dB
    # (N, 1) the sfi feature averaged over the row's cell (same path, band, hour, month); training
    # side only: what the sun gate's within-cell training subtracts (physics_recipe.within_cell_output)
    sfi_cell: torch.Tensor | None = None

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


@dataclass
class Prepared:
    train: Split
    val: Split
    leaked_paths: int   # paths (tx, rx) present on both sides; 0 for a path-level split
    checksum: float     # cheap fingerprint of the rows, to notice a resume on different data


def check_rows(rows: SignatureRows) -> None:
    a = rows.array
    if len(rows) == 0:
        raise DataError("no signature rows to train on: the table is empty or the filter kept nothing",
                        "train.limit_rows")
    bad = ~np.isfinite(a).all(axis=0)
    if bad.any():
        names = [c for c, i in COL.items() if bad[i]]
        counts = [int((~np.isfinite(a[:, COL[c]])).sum()) for c in names]
        raise DataError("rows hold non-finite values: " + ", ".join(
            f"{c} ({k} rows)" for c, k in zip(names, counts, strict=True)))
    for name, (lo, hi) in _RANGES.items():
        col = a[:, COL[name]]
        out = (col < lo) | (col > hi)
        if out.any():
            raise DataError(f"{int(out.sum())} rows have {name} outside {lo:g}..{hi:g} "
                            f"(first bad value {col[out][0]:g})")
    unknown = ~np.isin(a[:, COL["band"]], _BAND_IDS)
    if unknown.any():
        vals = sorted({int(v) for v in np.unique(a[unknown, COL["band"]])[:5]})
        raise DataError(f"{int(unknown.sum())} rows have unknown band ids {vals}; expected 102..111")


_PATH_COLUMNS = [COL[k] for k in ("tx_lat", "tx_lon", "rx_lat", "rx_lon")]
_CELL_COLUMNS = _PATH_COLUMNS + [COL[k] for k in ("band", "hour", "month")]


def _row_keys(a: np.ndarray, columns: list[int]) -> np.ndarray:
    """One opaque key per row: the bytes of its float32 values in `columns`. Exact, so two
    different paths or cells can never be taken for one (a mixed 64-bit hash did collide)."""
    key = np.ascontiguousarray(a[:, columns], dtype=np.float32)
    return key.view(np.dtype((np.void, key.dtype.itemsize * len(columns)))).ravel()


def _path_keys(a: np.ndarray) -> np.ndarray:
    """One key per (tx, rx) position pair."""
    return _row_keys(a, _PATH_COLUMNS)


def count_leaked_paths(rows: SignatureRows) -> int:
    keys = _path_keys(rows.array)
    val = rows.val_mask
    return int(np.intersect1d(keys[val], keys[~val], assume_unique=False).size)


def cell_mean(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each row's `values` averaged over the rows of its cell: the same path, band, hour and month
    (rows of one cell differ only in their space-weather class)."""
    _, cell = np.unique(_row_keys(rows, _CELL_COLUMNS), return_inverse=True)
    cell = cell.ravel()
    total = np.bincount(cell, weights=np.asarray(values, dtype=np.float64))
    return total[cell] / np.bincount(cell)[cell]


def _side(rows: np.ndarray, fs: FeatureSet, device: torch.device, training: bool) -> Split:
    c = {name: rows[:, i] for name, i in COL.items()}
    band_idx = np.searchsorted(_BAND_IDS, c["band"])
    freq = np.array([b.freq_hz for b in BANDS], dtype=np.float64)[band_idx]
    x = build_features(fs, c["tx_lat"], c["tx_lon"], c["rx_lat"], c["rx_lon"], freq,
                       c["hour"], c["month"], c["avg_sfi"], c["avg_kp"], doy=None)
    std = _BAND_STD[band_idx]
    y = (c["median_snr"].astype(np.float64) - _BAND_MEAN[band_idx]) / std
    spots = c["spot_count"].astype(np.float64)
    total = spots.sum()
    if total <= 0:
        raise DataError("every row has spot_count 0, so every training weight would be 0")
    w = spots * (len(spots) / total)

    def t(v: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)).to(device)
    # Only the training step uses the cell means (and sorting 20M rows for them costs ~15 s).
    sfi_cell = t(cell_mean(rows, x[:, fs.sfi_idx])[:, None]) if training else None
    return Split(t(x), t(y), t(w), t(std), sfi_cell)


def prepare(rows: SignatureRows, fs: FeatureSet, device: torch.device) -> Prepared:
    check_rows(rows)
    val = rows.val_mask
    n_val = int(val.sum())
    if n_val == 0 or n_val == len(rows):
        side = "validation" if n_val == len(rows) else "training"
        raise DataError(f"all {len(rows)} rows are {side} rows (is_val), so the other side is empty; "
                        "use more rows or a val_fraction between 0 and 1", "train.val_fraction")
    a = rows.array
    checksum = float(a[:, COL["median_snr"]].sum(dtype=np.float64)
                     + a[:, COL["spot_count"]].sum(dtype=np.float64) + len(rows))
    return Prepared(_side(a[~val], fs, device, training=True), _side(a[val], fs, device, training=False),
                    count_leaked_paths(rows), checksum)
