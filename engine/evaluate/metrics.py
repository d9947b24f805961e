"""Error statistics of predictions against observations, and the trivial baselines a model
must beat. Every figure is what its name says: rmse_db is the root of the mean squared error
in dB (not the peer's sqrt of a Huber loss); bias_db is mean(prediction - observed)."""

from __future__ import annotations

import math

import numpy as np

BASELINES = {
    "band_mean": "each band's norm mean (a model predicting 0 sigma)",
    "band_climatology": "per-band mean SNR of the training table",
    "band_hour_climatology": "per (band, hour) mean SNR of the training table",
}


def _num(x: float) -> float | None:
    return None if not math.isfinite(x) else round(float(x), 4)


def stats(pred: np.ndarray, obs: np.ndarray) -> dict[str, float | int | None]:
    """n, pearson, rmse_db, mae_db, bias_db (pearson is null when either side is constant)."""
    p = pred.astype(np.float64)
    o = obs.astype(np.float64)
    n = int(p.shape[0])
    if n == 0:
        return {"n": 0, "pearson": None, "rmse_db": None, "mae_db": None, "bias_db": None}
    e = p - o
    r = float("nan")
    if n > 1 and p.std() > 1e-9 and o.std() > 1e-9:
        r = float(np.corrcoef(p, o)[0, 1])
    return {"n": n, "pearson": _num(r), "rmse_db": _num(float(np.sqrt(np.mean(e * e)))),
            "mae_db": _num(float(np.mean(np.abs(e)))), "bias_db": _num(float(e.mean()))}


def skill(model: dict, baseline: dict) -> float | None:
    """1 - MSE_model / MSE_baseline: > 0 when the model beats the baseline."""
    if model.get("rmse_db") is None or not baseline.get("rmse_db"):
        return None
    return _num(1.0 - (model["rmse_db"] / baseline["rmse_db"]) ** 2)


def compare(pred: np.ndarray, obs: np.ndarray, baselines: dict[str, np.ndarray | str]) -> dict:
    """The model's stats and each baseline's (an array of its predictions, or a string saying
    why it is not available), with the model's skill against each."""
    model = stats(pred, obs)
    out = {"n": model["n"], "model": model, "baselines": {}}
    for name, b in baselines.items():
        if isinstance(b, str):
            out["baselines"][name] = {"na": b}
            continue
        s = stats(b, obs)
        s["skill"] = skill(model, s)
        out["baselines"][name] = s
    return out


def residual_by_hour(pred: np.ndarray, obs: np.ndarray, hour: np.ndarray) -> list[dict]:
    """Mean and RMS of (prediction - observed) per UTC hour with data."""
    e = pred.astype(np.float64) - obs
    out = []
    for h in range(24):
        sel = hour == h
        if sel.any():
            out.append({"hour": h, "n": int(sel.sum()), "bias_db": _num(float(e[sel].mean())),
                        "rmse_db": _num(float(np.sqrt(np.mean(e[sel] ** 2))))})
    return out
