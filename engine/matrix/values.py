"""Parsing the SFI and Kp axes of the matrix from user text ("70,150,200") with clear errors."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from engine.errors import InputError
from engine.limits import KP_RANGE, SFI_RANGE
from engine.predict import check_number

DEFAULT_SFI: tuple[float, ...] = (70.0, 100.0, 150.0, 200.0, 250.0, 300.0)
DEFAULT_KP: tuple[float, ...] = tuple(float(k) for k in range(10))
MAX_VALUES = 64  # a matrix wider than this is no longer something a person reads


def _check(name: str, values: Iterable, lo: float, hi: float) -> np.ndarray:
    out = [check_number(name, v, lo, hi) for v in values]
    if not out:
        raise InputError(f"{name} list is empty: give at least one value, e.g. {lo:g},{hi:g}")
    if len(out) > MAX_VALUES:
        raise InputError(f"{name} list has {len(out)} values; at most {MAX_VALUES}")
    # Rows/columns are shown and checked for monotonicity in ascending order; repeats add nothing.
    return np.array(sorted(set(out)), dtype=np.float64)


def parse_values(text: str | Iterable, name: str) -> np.ndarray:
    """"70,150,200" (or a sequence) -> sorted unique float array; name is "SFI" or "Kp"."""
    lo, hi = {"SFI": SFI_RANGE, "Kp": KP_RANGE}[name]
    if isinstance(text, str):
        s = text.strip()
        if not s:
            raise InputError(f"{name} list is empty: give comma-separated values, e.g. {lo:g},{hi:g}")
        parts = [p.strip() for p in s.split(",")]
        if any(p == "" for p in parts):
            raise InputError(f"{name} list {text!r} is malformed: an empty item between commas")
        return _check(name, parts, lo, hi)
    return _check(name, text, lo, hi)


def sfi_values(text=None) -> np.ndarray:
    return parse_values(DEFAULT_SFI if text is None else text, "SFI")


def kp_values(text=None) -> np.ndarray:
    return parse_values(DEFAULT_KP if text is None else text, "Kp")


def check_hour(text) -> float:
    """UTC hour as typed: a number in 0..23.999 (fractions allowed, e.g. 13.5)."""
    try:
        h = float(str(text).strip())
    except ValueError:
        raise InputError(f"hour {text!r} is not a number (0-23)") from None
    if not math.isfinite(h) or not 0.0 <= h < 24.0:
        raise InputError(f"hour {text} is outside 0..23")
    return h


def check_month(text) -> int:
    s = str(text).strip()
    try:
        m = int(s)
    except ValueError:
        raise InputError(f"month {text!r} is not a whole number (1-12)") from None
    if not 1 <= m <= 12:
        raise InputError(f"month {m} is outside 1..12")
    return m
