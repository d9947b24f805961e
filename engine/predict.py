"""Predictions for user-given conditions, with every input checked before the model sees it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from engine.bands import Band, parse_band
from engine.checkpoint import LoadedModel
from engine.errors import InputError
from engine.features import build_features
from engine.geo import parse_location

SFI_RANGE = (50.0, 400.0)
KP_RANGE = (0.0, 9.0)


def check_number(name: str, value, lo: float, hi: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} {value!r} is not a number") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise InputError(f"{name} {value} is outside the valid range {lo:g}..{hi:g}")
    return v


def check_sfi(v) -> float:
    return check_number("SFI", v, *SFI_RANGE)


def check_kp(v) -> float:
    return check_number("Kp", v, *KP_RANGE)


@dataclass(frozen=True)
class Path_:
    """A checked propagation path and time; sfi/kp vary per query."""

    tx: tuple[float, float]
    rx: tuple[float, float]
    band: Band
    hour: float
    month: int
    day: int | None = None

    @classmethod
    def parse(cls, tx, rx, band, hour, month, day=None) -> Path_:
        txl = parse_location(tx) if isinstance(tx, str) else (float(tx[0]), float(tx[1]))
        rxl = parse_location(rx) if isinstance(rx, str) else (float(rx[0]), float(rx[1]))
        for name, (lat, lon) in (("TX", txl), ("RX", rxl)):
            check_number(f"{name} latitude", lat, -90, 90)
            check_number(f"{name} longitude", lon, -180, 180)
        b = band if isinstance(band, Band) else parse_band(band)
        h = check_number("hour", hour, 0, 23.999)
        m = int(check_number("month", month, 1, 12))
        d = None if day is None else int(check_number("day of year", day, 1, 366))
        return cls(txl, rxl, b, h, m, d)


@torch.no_grad()
def predict_parts(lm: LoadedModel, path: Path_, sfi, kp, hour=None) -> dict[str, np.ndarray]:
    """Vectorised over broadcastable sfi, kp (and optionally hour) arrays; returns sigma, dB and
    every term: base, sun_gate, storm_gate, sun/storm contributions (gate * sidecar), in sigma."""
    sfi = np.asarray(sfi, dtype=np.float64)
    kp = np.asarray(kp, dtype=np.float64)
    hours = np.asarray(path.hour if hour is None else hour, dtype=np.float64)
    if np.any(~np.isfinite(sfi)) or np.any((sfi < SFI_RANGE[0]) | (sfi > SFI_RANGE[1])):
        raise InputError(f"SFI must lie in {SFI_RANGE[0]:g}..{SFI_RANGE[1]:g}")
    if np.any(~np.isfinite(kp)) or np.any((kp < KP_RANGE[0]) | (kp > KP_RANGE[1])):
        raise InputError(f"Kp must lie in {KP_RANGE[0]:g}..{KP_RANGE[1]:g}")
    shape = np.broadcast_shapes(sfi.shape, kp.shape, hours.shape)
    (tx_lat, tx_lon), (rx_lat, rx_lon) = path.tx, path.rx
    x = build_features(lm.feature_set, tx_lat, tx_lon, rx_lat, rx_lon, path.band.freq_hz,
                       np.broadcast_to(hours, shape).ravel(), path.month,
                       np.broadcast_to(sfi, shape).ravel(), np.broadcast_to(kp, shape).ravel(),
                       doy=path.day)
    p = lm.model.parts(torch.from_numpy(x))
    mean, std = lm.norm.get(path.band.id, (path.band.snr_mean, path.band.snr_std))
    out = {
        "sigma": p["out"], "base": p["base"], "sun_gate": p["sun_gate"], "storm_gate": p["storm_gate"],
        "sun": p["sun_gate"] * p["sun"], "storm": p["storm_gate"] * p["storm"],
    }
    res = {k: v.numpy().astype(np.float32).reshape(shape) for k, v in out.items()}
    res["db"] = (res["sigma"] * np.float32(std) + np.float32(mean)).astype(np.float32)
    return res


def predict_one(lm: LoadedModel, path: Path_, sfi: float, kp: float) -> dict[str, float]:
    check_sfi(sfi)
    check_kp(kp)
    r = predict_parts(lm, path, sfi, kp)
    return {"sigma": float(r["sigma"]), "db": float(r["db"]), "base": float(r["base"]),
            "sun_gate": float(r["sun_gate"]), "storm_gate": float(r["storm_gate"]),
            "sun": float(r["sun"]), "storm": float(r["storm"])}
