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
from engine.limits import KP_RANGE, SFI_RANGE


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


def predict_parts(lm: LoadedModel, path: Path_, sfi, kp, hour=None) -> dict[str, np.ndarray]:
    """Vectorised over broadcastable sfi, kp (and optionally hour) arrays; returns sigma, dB and
    every term: base, sun_gate, storm_gate, sun/storm contributions (gate * sidecar), in sigma,
    shaped like the broadcast inputs. One path through predict_rows (the one inference path)."""
    sfi, kp = np.asarray(sfi, dtype=np.float64), np.asarray(kp, dtype=np.float64)
    hours = np.asarray(path.hour if hour is None else hour, dtype=np.float64)
    shape = np.broadcast_shapes(sfi.shape, kp.shape, hours.shape)
    r = predict_rows(lm, tx_lat=path.tx[0], tx_lon=path.tx[1], rx_lat=path.rx[0], rx_lon=path.rx[1],
                     band_id=path.band.id, hour=hours, month=path.month, sfi=sfi, kp=kp, doy=path.day)
    return {k: v.reshape(shape) for k, v in r.items()}


def predict_one(lm: LoadedModel, path: Path_, sfi: float, kp: float) -> dict[str, float]:
    check_sfi(sfi)
    check_kp(kp)
    r = predict_parts(lm, path, sfi, kp)
    return {"sigma": float(r["sigma"]), "db": float(r["db"]), "base": float(r["base"]),
            "sun_gate": float(r["sun_gate"]), "storm_gate": float(r["storm_gate"]),
            "sun": float(r["sun"]), "storm": float(r["storm"])}


def check_range(name: str, a: np.ndarray, lo: float, hi: float) -> None:
    """Every element finite and within lo..hi, else one InputError naming the quantity."""
    if np.any(~np.isfinite(a)) or np.any((a < lo) | (a > hi)):
        raise InputError(f"{name} must lie in {lo:g}..{hi:g}")


def band_norm(lm: LoadedModel, band_id: int) -> tuple[float, float]:
    """(mean, std) in dB that turn the model's sigma into dB on this band: the checkpoint's own
    norm when it carries one, else the band table's. The one place this lookup lives."""
    from engine.bands import BY_ID

    bd = BY_ID[int(band_id)]
    return lm.norm.get(bd.id, (bd.snr_mean, bd.snr_std))


CHUNK_ROWS = 262_144  # rows per forward pass: bounded memory, still one pass for small sets


@torch.no_grad()
def predict_rows(lm: LoadedModel, *, tx_lat, tx_lon, rx_lat, rx_lon, band_id, hour, month,
                 sfi, kp, doy=None, chunk: int = CHUNK_ROWS) -> dict[str, np.ndarray]:
    """The one batched inference path: one prediction per row of broadcastable arrays.

    band_id: ADIF band ids (102-111), per row; doy: day of year per row, or None for the
    mid-month day (signature data, as in training). Ranges are checked first (SFI, Kp, band);
    rows go through the model in chunks of `chunk`. Returns float32 arrays: sigma, db (each
    row's band norm), base, sun_gate, storm_gate, sun and storm (gate * sidecar, sigma)."""
    from engine.bands import BY_ID

    cols = [np.asarray(a) for a in (tx_lat, tx_lon, rx_lat, rx_lon, band_id, hour, month, sfi, kp)]
    if doy is not None:
        cols.append(np.asarray(doy))
    arrays = [np.atleast_1d(a).ravel() for a in np.broadcast_arrays(*cols)]
    tla, tlo, rla, rlo, band, hr, mon, s, k = arrays[:9]
    day = arrays[9] if doy is not None else None
    check_range("SFI", s.astype(np.float64), *SFI_RANGE)
    check_range("Kp", k.astype(np.float64), *KP_RANGE)
    band = band.astype(np.int64)
    ids = np.unique(band)
    unknown = [int(b) for b in ids if int(b) not in BY_ID]
    if unknown:
        raise InputError(f"unknown band id(s) {unknown}: expected ADIF 102-111")
    freq = np.empty(band.shape, dtype=np.float64)
    mean = np.empty(band.shape, dtype=np.float32)
    std = np.empty(band.shape, dtype=np.float32)
    for b in ids:
        sel = band == b
        freq[sel] = BY_ID[int(b)].freq_hz
        mean[sel], std[sel] = band_norm(lm, int(b))
    keys = ("sigma", "base", "sun_gate", "storm_gate", "sun", "storm")
    out = {key: np.empty(band.shape, dtype=np.float32) for key in keys}
    for a in range(0, band.shape[0], chunk):
        sl = slice(a, a + chunk)
        x = build_features(lm.feature_set, tla[sl], tlo[sl], rla[sl], rlo[sl], freq[sl], hr[sl],
                           mon[sl], s[sl], k[sl], doy=None if day is None else day[sl])
        p = lm.model.parts(torch.from_numpy(x))
        terms = {"sigma": p["out"], "base": p["base"], "sun_gate": p["sun_gate"],
                 "storm_gate": p["storm_gate"], "sun": p["sun_gate"] * p["sun"],
                 "storm": p["storm_gate"] * p["storm"]}
        for key in keys:
            out[key][sl] = terms[key].reshape(-1).numpy()
    out["db"] = out["sigma"] * std + mean
    return out
