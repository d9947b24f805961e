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
from engine.features import FeatureSet, build_features, sfi_feature

# Valid ranges of the input columns; anything outside is a loader bug or a broken table.
_RANGES = {"tx_lat": (-90, 90), "rx_lat": (-90, 90), "tx_lon": (-180, 180), "rx_lon": (-180, 180),
           "hour": (0, 23), "month": (1, 12), "spot_count": (0, float("inf")),
           "avg_sfi": (0, 1000), "avg_kp": (0, 9)}
_BAND_IDS = np.array([b.id for b in BANDS], dtype=np.float32)
_BAND_MEAN = np.array([b.snr_mean for b in BANDS], dtype=np.float64)
_BAND_STD = np.array([b.snr_std for b in BANDS], dtype=np.float64)
_FREQ = np.array([b.freq_hz for b in BANDS], dtype=np.float64)


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
    bad = np.zeros(a.shape[1], dtype=bool)
    for i in range(0, len(a), CHUNK):  # block by block: no (N, 12) mask of the whole table
        bad |= ~np.isfinite(a[i:i + CHUNK]).all(axis=0)
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
CHUNK = 1 << 18  # rows per block: the float64 work of one block stays near 100 MB
_KEY_LIMIT = 1 << 62


class _Coder:
    """An exact integer code for each float32 value of one column. Grid centres, bands, hours
    and months lie on a unit lattice above the column's minimum (code = value - min); any
    other column is coded by its table of distinct values. Exact by construction: the code
    maps back to the value for every row, so two different values never share a code."""

    def __init__(self, col: np.ndarray):
        self.lo, self.table = float(col.min()), None
        span = float(col.max()) - self.lo
        if span < 1 << 24 and all(np.array_equal((self.lo + self._lattice(col[i:i + CHUNK]))
                                                 .astype(np.float32), col[i:i + CHUNK])
                                  for i in range(0, len(col), CHUNK)):
            self.radix = int(round(span)) + 1
        else:
            self.table = np.unique(col)
            self.radix = len(self.table)

    def _lattice(self, c: np.ndarray) -> np.ndarray:
        return np.rint(c.astype(np.float64) - self.lo)

    def codes(self, c: np.ndarray) -> np.ndarray:
        if self.table is None:
            return self._lattice(c).astype(np.int64)
        return np.searchsorted(self.table, c).astype(np.int64)


def _row_keys(a: np.ndarray, columns: list[int], mask: np.ndarray | None = None) -> np.ndarray:
    """One int64 key per row (of the rows in `mask`, all by default): equal exactly when the
    rows' float32 values in `columns` are equal. Block by block, 8 bytes a row. Keys of two
    calls are not comparable (a column may be renumbered)."""
    coders = {j: _Coder(a[:, j]) for j in columns}
    n = len(a) if mask is None else int(np.count_nonzero(mask))
    key = np.zeros(n, dtype=np.int64)
    radix = 1
    for j in columns:
        if radix * coders[j].radix >= _KEY_LIMIT:  # renumber the keys so far densely (rare)
            uniq, inverse = np.unique(key, return_inverse=True)
            key, radix = inverse.ravel().astype(np.int64), len(uniq)
        at = 0
        for i in range(0, len(a), CHUNK):
            c = a[i:i + CHUNK, j] if mask is None else a[i:i + CHUNK, j][mask[i:i + CHUNK]]
            key[at:at + len(c)] = key[at:at + len(c)] * coders[j].radix + coders[j].codes(c)
            at += len(c)
        radix *= coders[j].radix
    return key


def _path_keys(a: np.ndarray) -> np.ndarray:
    """One key per (tx, rx) position pair."""
    return _row_keys(a, _PATH_COLUMNS)


def count_leaked_paths(rows: SignatureRows) -> int:
    """Paths (tx, rx) with rows on both sides: the validation side's distinct paths, looked up
    block by block (8 bytes a row for the keys; no copy of the training side)."""
    a, val = rows.array, rows.val_mask
    keys = _path_keys(a)  # one numbering for both sides
    on_val = np.unique(keys[val])
    if on_val.size == 0:
        return 0
    seen = np.zeros(on_val.size, dtype=bool)
    for i in range(0, len(a), CHUNK):
        k = keys[i:i + CHUNK][~val[i:i + CHUNK]]
        pos = np.minimum(np.searchsorted(on_val, k), on_val.size - 1)
        seen[pos[on_val[pos] == k]] = True
    return int(seen.sum())


def group_mean(key: np.ndarray, values: np.ndarray) -> np.ndarray:
    """float32 mean of `values` over the rows sharing a key, for each row. One stable sort of
    the keys: within a group the values add up in row order, as a running sum would."""
    order = np.argsort(key, kind="stable")
    k = key[order]
    start = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    del k
    sums = np.add.reduceat(np.asarray(values)[order], start, dtype=np.float64)
    counts = np.diff(np.append(start, len(key)))
    out = np.empty(len(key), dtype=np.float32)
    out[order] = np.repeat((sums / counts).astype(np.float32), counts)
    return out


def cell_mean(rows: np.ndarray, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Each row's `values` averaged over the rows of its cell: the same path, band, hour and month
    (rows of one cell differ only in their space-weather class). With `mask`, over those rows."""
    return group_mean(_row_keys(rows, _CELL_COLUMNS, mask), values)


def _sfi_values(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The sfi feature (as build_features writes it) of the rows in mask."""
    out = np.empty(int(np.count_nonzero(mask)), dtype=np.float32)
    at = 0
    for i in range(0, len(a), CHUNK):
        v = sfi_feature(a[i:i + CHUNK, COL["avg_sfi"]][mask[i:i + CHUNK]])
        out[at:at + len(v)] = v
        at += len(v)
    return out


def _fill(a: np.ndarray, mask: np.ndarray, fs: FeatureSet, out: dict[str, np.ndarray]) -> None:
    """Features, target and dB scale of the rows in mask, block by block into `out`."""
    at = 0
    for i in range(0, len(a), CHUNK):
        b = a[i:i + CHUNK][mask[i:i + CHUNK]]
        k = len(b)
        c = {name: b[:, j] for name, j in COL.items()}
        band_idx = np.searchsorted(_BAND_IDS, c["band"])
        out["x"][at:at + k] = build_features(fs, c["tx_lat"], c["tx_lon"], c["rx_lat"], c["rx_lon"],
                                             _FREQ[band_idx], c["hour"], c["month"], c["avg_sfi"],
                                             c["avg_kp"], doy=None)
        out["y"][at:at + k] = (c["median_snr"].astype(np.float64) - _BAND_MEAN[band_idx]) / _BAND_STD[band_idx]
        out["std"][at:at + k] = _BAND_STD[band_idx]
        out["w"][at:at + k] = c["spot_count"]
        at += k


def _side(a: np.ndarray, mask: np.ndarray, fs: FeatureSet, device: torch.device, training: bool) -> Split:
    """One side of the split, built into preallocated float32 arrays: no copy of the side's rows
    and no float64 array longer than a block."""
    n = int(np.count_nonzero(mask))
    # Only the training step uses the cell means (computed first, while little else is held).
    sfi_cell = cell_mean(a, _sfi_values(a, mask), mask)[:, None] if training else None
    out = {"x": np.empty((n, fs.input_dim), dtype=np.float32),
           **{k: np.empty(n, dtype=np.float32) for k in ("y", "w", "std")}}
    _fill(a, mask, fs, out)
    w = out["w"]
    total = w.sum(dtype=np.float64)
    if total <= 0:
        raise DataError("every row has spot_count 0, so every training weight would be 0")
    for i in range(0, n, CHUNK):  # w = spot_count * n / total, mean 1 on this side
        w[i:i + CHUNK] = w[i:i + CHUNK].astype(np.float64) * (n / total)

    def t(v: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(v).to(device)
    return Split(t(out["x"]), t(out["y"]), t(w), t(out["std"]),
                 t(sfi_cell) if sfi_cell is not None else None)


def prepare(rows: SignatureRows, fs: FeatureSet, device: torch.device) -> Prepared:
    """Memory: besides `rows`, the float32 arrays of both sides plus, for a moment, about 30
    bytes per training row for the cell means (int64 keys and their sort order)."""
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
    leaked = count_leaked_paths(rows)
    return Prepared(_side(a, ~val, fs, device, training=True), _side(a, val, fs, device, training=False),
                    leaked, checksum)
