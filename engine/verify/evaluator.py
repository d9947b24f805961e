"""Predictions for the verification kinds: one LoadedModel, read only, through the one
inference path (engine.predict.predict_rows; predict_parts for single paths), batched across
paths.

Differences on one band are exact in both units: dB = sigma * that band's std. Differences
across bands are real dB differences of the predicted SNRs; their sigma value is dB / 6.7
(the original's flat factor), since two bands have no common sigma.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.checkpoint import LoadedModel
from engine.errors import InputError
from engine.geo import day_of_year
from engine.predict import CHUNK_ROWS, Path_, predict_parts, predict_rows


@dataclass
class Measurement:
    value_db: float | None = None
    value_sigma: float | None = None
    value: float | None = None        # the judged quantity when the unit is hour/count/ratio
    grade_value: float | None = None  # judged by the grades when grade_on = "ratio"
    detail: str = ""                  # what was measured, with the numbers
    verdict: bool | None = None       # set by kinds that judge themselves
    threshold: str | None = None      # their threshold, in words
    na: str | None = None             # why the test does not apply
    extra: dict[str, Any] = field(default_factory=dict)
    override: tuple[float, int] | None = None  # (value after the peer's override rule, predictions clamped)


class Evaluator:
    """Predictions for one LoadedModel through engine.predict; counts forward passes."""

    def __init__(self, lm: LoadedModel):
        self.lm = lm
        self.passes = 0
        self.rows = 0

    @staticmethod
    def path(c: dict[str, Any], **over: Any) -> Path_:
        d = {**c, **over}
        return Path_.parse(loc_value(d["tx"]), loc_value(d["rx"]), d["band"], d["hour"], d["month"], d.get("day"))

    def predict(self, path: Path_, sfi, kp, hour=None) -> dict[str, np.ndarray]:
        """One path: engine.predict.predict_parts itself."""
        r = predict_parts(self.lm, path, sfi, kp, hour)
        self.passes += 1
        self.rows += int(r["sigma"].size)
        return {k: v.astype(np.float64) for k, v in r.items()}

    def predict_many(self, requests: Sequence[tuple[Path_, Any, Any, Any]]) -> list[dict[str, np.ndarray]]:
        """Several (path, sfi, kp, hour) requests in ONE call of engine.predict.predict_rows
        (the one inference path: range checks, features, model, per-band dB), batched across
        paths, so a test over many paths and bands costs one pass, not one per path."""
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("tla", "tlo", "rla", "rlo", "b", "h", "m", "s", "k", "d")}
        shapes = []
        for path, sfi, kp, hour in requests:
            sfi_a, kp_a = np.asarray(sfi, dtype=np.float64), np.asarray(kp, dtype=np.float64)
            h_a = np.asarray(path.hour if hour is None else hour, dtype=np.float64)
            shape = np.broadcast_shapes(sfi_a.shape, kp_a.shape, h_a.shape)
            n = int(np.prod(shape, dtype=np.int64))
            for key, v in (("tla", path.tx[0]), ("tlo", path.tx[1]), ("rla", path.rx[0]), ("rlo", path.rx[1]),
                           ("b", path.band.id), ("m", path.month), ("d", day_of_year(path.month, path.day))):
                cols[key].append(np.full(n, v, dtype=np.float64))
            for key, a in (("h", h_a), ("s", sfi_a), ("k", kp_a)):
                cols[key].append(np.broadcast_to(a, shape).ravel())
            shapes.append(shape)
        c = {k: np.concatenate(v) for k, v in cols.items()}
        flat = predict_rows(self.lm, tx_lat=c["tla"], tx_lon=c["tlo"], rx_lat=c["rla"], rx_lon=c["rlo"],
                            band_id=c["b"], hour=c["h"], month=c["m"], sfi=c["s"], kp=c["k"], doy=c["d"])
        rows = int(c["s"].size)
        self.passes += -(-rows // CHUNK_ROWS)
        self.rows += rows
        out, start = [], 0
        for shape in shapes:
            n = int(np.prod(shape, dtype=np.int64))
            out.append({k: v[start:start + n].reshape(shape).astype(np.float64) for k, v in flat.items()})
            start += n
        return out


def loc_value(v: Any):
    """TOML gives a preset/grid string or a [lat, lon] array."""
    return tuple(v) if isinstance(v, list) else v


def describe(c: dict[str, Any], band: str | None = None, hour: Any = None) -> str:
    """Short text for a path and time, e.g. "W3→G 20m 14z m6 d172"."""
    def loc(v: Any) -> str:
        return f"{v[0]:g},{v[1]:g}" if isinstance(v, list) else str(v)
    h = c.get("hour") if hour is None else hour
    day = f" d{c['day']}" if c.get("day") is not None else ""
    when = h if isinstance(h, str) else f"{h:g}z"
    return f"{loc(c['tx'])}→{loc(c['rx'])} {band or c['band']} {when + ' ' if when else ''}m{c['month']}{day}"


def pair(c: dict[str, Any], key: str) -> tuple[Any, Any]:
    v = c[key]
    if not isinstance(v, list) or len(v) != 2:
        raise InputError(f"{key} must be a pair [from, to], got {v!r}")
    return v[0], v[1]


def space_weather(c: dict[str, Any]) -> str:
    return f"SFI {c['sfi']:g} Kp {c['kp']:g}"
