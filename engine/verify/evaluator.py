"""Predictions for the verification kinds: one LoadedModel, read only, through the same steps
as engine.predict.predict_parts (which it calls for single paths), batched across paths.

Differences on one band are exact in both units: dB = sigma * that band's std. Differences
across bands are real dB differences of the predicted SNRs; their sigma value is dB / 6.7
(the flat factor the peer uses), since two bands have no common sigma.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from engine.checkpoint import LoadedModel
from engine.errors import InputError
from engine.features import build_features
from engine.geo import mid_month_doy
from engine.predict import KP_RANGE, SFI_RANGE, Path_, predict_parts


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
        """Several (path, sfi, kp, hour) requests in ONE forward pass. Same steps as
        predict_parts (range checks, build_features, model.parts, per-band dB), batched across
        paths, so a test over many paths and bands costs one pass, not one per path."""
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("tla", "tlo", "rla", "rlo", "f", "h", "m", "s", "k", "d")}
        shapes, norms = [], []
        for path, sfi, kp, hour in requests:
            sfi_a, kp_a = np.asarray(sfi, dtype=np.float64), np.asarray(kp, dtype=np.float64)
            h_a = np.asarray(path.hour if hour is None else hour, dtype=np.float64)
            for name, a, (lo, hi) in (("SFI", sfi_a, SFI_RANGE), ("Kp", kp_a, KP_RANGE)):
                if np.any(~np.isfinite(a)) or np.any((a < lo) | (a > hi)):
                    raise InputError(f"{name} must lie in {lo:g}..{hi:g}")
            shape = np.broadcast_shapes(sfi_a.shape, kp_a.shape, h_a.shape)
            n = int(np.prod(shape, dtype=np.int64))
            day = path.day if path.day is not None else float(mid_month_doy(path.month))
            for key, v in (("tla", path.tx[0]), ("tlo", path.tx[1]), ("rla", path.rx[0]), ("rlo", path.rx[1]),
                           ("f", float(path.band.freq_hz)), ("m", float(path.month)), ("d", float(day))):
                cols[key].append(np.full(n, v, dtype=np.float64))
            for key, a in (("h", h_a), ("s", sfi_a), ("k", kp_a)):
                cols[key].append(np.broadcast_to(a, shape).ravel())
            shapes.append(shape)
            norms.append(self.lm.norm.get(path.band.id, (path.band.snr_mean, path.band.snr_std)))
        c = {k: np.concatenate(v) for k, v in cols.items()}
        x = build_features(self.lm.feature_set, c["tla"], c["tlo"], c["rla"], c["rlo"], c["f"], c["h"], c["m"],
                           c["s"], c["k"], doy=c["d"])
        with torch.no_grad():
            p = self.lm.model.parts(torch.from_numpy(x))
        self.passes += 1
        self.rows += int(x.shape[0])
        terms = {"sigma": p["out"], "base": p["base"], "sun_gate": p["sun_gate"], "storm_gate": p["storm_gate"],
                 "sun": p["sun_gate"] * p["sun"], "storm": p["storm_gate"] * p["storm"]}
        flat = {k: v.numpy().astype(np.float32) for k, v in terms.items()}
        out, start = [], 0
        for shape, (mean, std) in zip(shapes, norms, strict=True):
            n = int(np.prod(shape, dtype=np.int64))
            r = {k: v[start:start + n].reshape(shape) for k, v in flat.items()}
            r["db"] = (r["sigma"] * np.float32(std) + np.float32(mean)).astype(np.float32)
            out.append({k: v.astype(np.float64) for k, v in r.items()})
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
