"""Training rows in memory: one float32 matrix, one column per field, no per-row objects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Order of the columns in SignatureRows.array. Grids arrive already converted to the
# centre of their 4-character square; band is the ADIF-style id (102..111).
COLUMNS: tuple[str, ...] = (
    "tx_lat", "tx_lon", "rx_lat", "rx_lon", "band", "hour", "month",
    "median_snr", "spot_count", "avg_sfi", "avg_kp", "is_val",
)
COL = {name: i for i, name in enumerate(COLUMNS)}


@dataclass
class SignatureRows:
    array: np.ndarray  # (N, len(COLUMNS)) float32, C-contiguous

    def __post_init__(self) -> None:
        if self.array.dtype != np.float32 or self.array.ndim != 2 or self.array.shape[1] != len(COLUMNS):
            raise ValueError(f"SignatureRows needs a (N, {len(COLUMNS)}) float32 array, got "
                             f"{self.array.shape} {self.array.dtype}")

    def __len__(self) -> int:
        return self.array.shape[0]

    def col(self, name: str) -> np.ndarray:
        return self.array[:, COL[name]]

    @property
    def val_mask(self) -> np.ndarray:
        return self.col("is_val") > 0.5
