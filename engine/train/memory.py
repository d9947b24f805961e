"""Will a training run's data fit in memory? Asked before a single row is read.

A run holds, per row: the loaded float32 rows (len(COLUMNS) values), then the float32 arrays
it trains on (the features, target, weight and dB scale of both sides, plus the cell mean of
the sun feature on the training side), and for a moment the int64 keys of the cell means and
their sort order. engine.train.prepare builds them block by block, so nothing else grows
with the table. bench/scale.py measures the real peak against this estimate.
"""

from __future__ import annotations

from engine.data.rows import COLUMNS
from engine.errors import DataError
from engine.features import FEATURE_SETS

RESERVE = 1 << 30   # the process itself (python, torch, the embedded database) and headroom
SORT_BYTES = 32     # per row, while the cell means are computed (keys, order, sorted keys)


def array_bytes_per_row(feature_set: str) -> int:
    """Bytes per row of the float32 arrays training keeps: x (D), y, w, std and sfi_cell."""
    return 4 * (FEATURE_SETS[feature_set].input_dim + 4)


def peak_bytes_per_row(feature_set: str) -> int:
    """Bytes per row at the peak of loading and preparing: rows + arrays + sort transients."""
    return 4 * len(COLUMNS) + array_bytes_per_row(feature_set) + SORT_BYTES


def available_bytes() -> int | None:
    """Memory the system can still give without swapping, from psutil: MemAvailable on Linux,
    free + inactive pages on macOS (the user's Mac Studio). None when the system does not say
    (then nothing is refused)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except (ImportError, OSError, RuntimeError, AttributeError):
        return None


def rows_that_fit(feature_set: str, available: int) -> int:
    return max(0, (available - RESERVE) // peak_bytes_per_row(feature_set))


def ensure_fits(rows: int, feature_set: str, available: int | None = None) -> None:
    """DataError naming train.limit_rows when `rows` would not fit in the available memory."""
    available = available_bytes() if available is None else available
    if available is None or rows <= 0:
        return
    need = rows * peak_bytes_per_row(feature_set) + RESERVE
    if need <= available:
        return
    fit = rows_that_fit(feature_set, available)
    gb = 1 << 30
    raise DataError(f"{rows:,} rows need about {need / gb:.1f} GB of memory to train and "
                    f"{available / gb:.1f} GB is available: about {fit:,} rows fit; train on a "
                    f"sample with train.limit_rows (--limit-rows {fit})",
                    "train.limit_rows")

