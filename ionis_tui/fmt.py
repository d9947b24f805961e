"""Small text formatters shared by the widgets: durations, counts, numbers, bars."""

from __future__ import annotations

import math

DASH = "—"


def duration(seconds: float | None) -> str:
    """1:02:03 or 2:03; a dash when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return DASH
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def count(n: int | float | None) -> str:
    return DASH if n is None else f"{int(n):,}"


def rate(per_s: float | None) -> str:
    """Samples per second, compact: 950, 12.3k, 1.25M."""
    if per_s is None or not math.isfinite(per_s):
        return DASH
    if per_s >= 1e6:
        return f"{per_s / 1e6:.2f}M"
    if per_s >= 1e4:
        return f"{per_s / 1e3:.1f}k"
    return f"{per_s:,.0f}"


def num(x: float | None, spec: str = ".4f") -> str:
    if x is None:
        return DASH
    try:
        x = float(x)
    except (TypeError, ValueError):
        return DASH
    return format(x, spec) if math.isfinite(x) else str(x)


def share(x: float | None) -> str:
    """A fraction 0..1 as a whole percentage."""
    return DASH if x is None else f"{100 * float(x):.0f}%"


def bar(fraction: float, width: int) -> str:
    """A text progress bar of exactly `width` cells."""
    width = max(1, width)
    f = min(1.0, max(0.0, fraction if math.isfinite(fraction) else 0.0))
    full = int(f * width)
    half = (f * width - full) >= 0.5
    out = "━" * full + ("╸" if half and full < width else "")
    return out + "─" * (width - len(out))
