"""Measurement kinds for the robustness group: determinism, smoothness, sweep jumps, band
range, SFI x Kp monotonicity over the full grid, and refusal of out-of-range inputs."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.bands import BANDS, SIGMA_DB, parse_band
from engine.errors import InputError
from engine.limits import KP_RANGE, SFI_RANGE
from engine.predict import Path_
from engine.verify.evaluator import Evaluator, Measurement, describe

if TYPE_CHECKING:
    from engine.verify.spec import TestSpec


def _grid_for(c: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    sfi = np.arange(SFI_RANGE[0], SFI_RANGE[1] + 1e-9, float(c.get("sfi_step", 10)))
    kp = np.arange(KP_RANGE[0], KP_RANGE[1] + 1e-9, float(c.get("kp_step", 0.5)))
    return sfi, kp


def determinism(evaluator: Evaluator, spec: TestSpec, c: dict[str, Any]) -> Measurement:
    """The same inputs twice must give bit-identical outputs (no hidden state, no dropout)."""
    worst = 0.0
    hours = np.arange(24, dtype=np.float64)[:, None]
    sfi = np.array([70.0, 150.0, 250.0])[None, :]
    reqs = [(evaluator.path(p), sfi, p["kp"], hours) for p in c["paths"]]
    first, second = evaluator.predict_many(reqs), evaluator.predict_many(reqs)
    n = 0
    for a, b in zip(first, second, strict=True):
        d = np.abs(a["db"] - b["db"])
        # NaN == NaN is not "the same output": a NaN anywhere makes the test fail.
        worst = math.nan if not np.isfinite(d).all() else max(worst, float(d.max()))
        n += a["db"].size
    return Measurement(worst, worst / SIGMA_DB, detail=f"{n} predictions ({len(c['paths'])} paths x 24 h x 3 SFI) "
                       f"made twice; largest difference {worst:.3g} dB")


def _nudge(x: float, rel: float, hi: float) -> float:
    """x moved by a relative step; a step that would leave the valid range goes the other way."""
    y = x * (1 + rel)
    return y if abs(y) <= hi else x * (1 - rel)


def smoothness(evaluator: Evaluator, spec: TestSpec, c: dict[str, Any]) -> Measurement:
    """Change each continuous input by a small relative step; the output must barely move."""
    rel = float(c.get("relative_step", 0.001))
    reqs, labels = [], []
    for p in c["paths"]:
        path = evaluator.path(p)
        s, k, h = float(p["sfi"]), float(p["kp"]), float(p["hour"])
        # base, then SFI, Kp and hour nudged, as one request; then each coordinate nudged.
        reqs.append((path, [s, _nudge(s, rel, SFI_RANGE[1]), s, s], [k, k, _nudge(k, rel, KP_RANGE[1]), k],
                     [h, h, h, _nudge(h, rel, 23.999)]))
        (tlat, tlon), (rlat, rlon) = path.tx, path.rx
        for tx, rx in (((_nudge(tlat, rel, 90), tlon), (rlat, rlon)), ((tlat, _nudge(tlon, rel, 180)), (rlat, rlon)),
                       ((tlat, tlon), (_nudge(rlat, rel, 90), rlon)), ((tlat, tlon), (rlat, _nudge(rlon, rel, 180)))):
            reqs.append((Path_(tx, rx, path.band, path.hour, path.month, path.day), s, k, None))
        labels.append(describe(p))
    rs = evaluator.predict_many(reqs)
    worst, where = 0.0, ""
    for i, label in enumerate(labels):
        base3, coords = rs[5 * i]["db"], rs[5 * i + 1: 5 * i + 5]
        base = base3[0]
        moves = {"SFI": base3[1] - base, "Kp": base3[2] - base, "hour": base3[3] - base}
        for name, r in zip(("TX lat", "TX lon", "RX lat", "RX lon"), coords, strict=True):
            moves[name] = float(r["db"]) - base
        for name, m in moves.items():
            if not math.isfinite(m):
                worst, where = math.nan, f"non-finite prediction, {name} on {label}"
            elif math.isfinite(worst) and (abs(m) > abs(worst) or not where):
                worst, where = float(m), f"{name} on {label}"
    w = abs(worst)
    return Measurement(w, w / SIGMA_DB, detail=f"each of SFI, Kp, hour, TX/RX lat/lon changed by {rel:.1%} on "
                       f"{len(c['paths'])} paths; largest move {w:.3f} dB ({where})")


def sweep_jump(evaluator: Evaluator, spec: TestSpec, c: dict[str, Any]) -> Measurement:
    worst_sig, worst_db, where = 0.0, 0.0, ""
    hours = np.arange(24, dtype=np.float64)
    rs = evaluator.predict_many([(evaluator.path(p, hour=0), p["sfi"], p["kp"], hours) for p in c["paths"]])
    for p, r in zip(c["paths"], rs, strict=True):
        jumps = np.abs(np.diff(np.append(r["sigma"], r["sigma"][0])))  # 23z -> 0z closes the day
        if not np.isfinite(jumps).all():
            worst_sig = worst_db = math.nan
            where = f"non-finite predictions on {describe(p, hour='')}"
            break
        i = int(np.argmax(jumps))
        if jumps[i] >= worst_sig:
            worst_sig = float(jumps[i])
            worst_db = worst_sig * parse_band(p["band"]).snr_std
            where = f"{i:02d}z→{(i + 1) % 24:02d}z on {describe(p, hour='')}"
    return Measurement(worst_db, worst_sig, detail=f"24-hour sweeps on {len(c['paths'])} paths; largest hour-to-hour "
                       f"jump {worst_sig:.3f}σ ({worst_db:.2f} dB) at {where}")


def band_range(evaluator: Evaluator, spec: TestSpec, c: dict[str, Any]) -> Measurement:
    """Every band, every hour, at the two space-weather extremes (SFI 50 with Kp 9, the worst;
    SFI 400 with Kp 0, the best, given the monotonicity TST-305 checks): predictions must stay
    in a sane sigma range. The value is the extreme nearer to (or further past) its bound."""
    hours = np.arange(24, dtype=np.float64)[:, None]
    sfi = np.array(SFI_RANGE)[None, :]
    kp = np.array(KP_RANGE[::-1])[None, :]
    combos = [(p, b) for p in c["paths"] for b in BANDS]
    rs = evaluator.predict_many([(evaluator.path(p, band=b.name, hour=0), sfi, kp, hours) for p, b in combos])
    n = sum(r["sigma"].size for r in rs)
    head = f"{n} predictions (10 bands x 24 h x 2 space-weather extremes on {len(c['paths'])} paths)"
    lo, hi, lo_at, hi_at = math.inf, -math.inf, "", ""
    for (p, b), res in zip(combos, rs, strict=True):
        r = res["sigma"]
        if not np.isfinite(r).all():
            return Measurement(math.nan, math.nan, detail=f"{head}: non-finite predictions on "
                               f"{describe(p, band=b.name, hour='')}")
        if r.min() < lo:
            lo, lo_at = float(r.min()), describe(p, band=b.name, hour="")
        if r.max() > hi:
            hi, hi_at = float(r.max()), describe(p, band=b.name, hour="")
    rule = spec.pass_rule
    if rule is not None and rule.op == "in":
        use_lo = (lo - rule.value) < (rule.upper - hi)
    else:
        use_lo = abs(lo) > abs(hi)
    v = lo if use_lo else hi
    return Measurement(v * SIGMA_DB, v, extra={"min_sigma": lo, "max_sigma": hi},
                       detail=f"{head} span {lo:+.2f}σ ({lo_at}) .. {hi:+.2f}σ ({hi_at})")


def monotonic_grid(evaluator: Evaluator, spec: TestSpec, c: dict[str, Any]) -> Measurement:
    """Full SFI x Kp grid per path: each step up in SFI must not lower SNR, each step up in Kp
    must not raise it. The value is the worst wrong-way step in dB (negative: all steps right)."""
    sfi, kp = _grid_for(c)
    worst, where = -math.inf, ""
    rs = evaluator.predict_many([(evaluator.path(p), sfi[:, None], kp[None, :], None) for p in c["paths"]])
    for p, res in zip(c["paths"], rs, strict=True):
        db = res["db"]
        if not np.isfinite(db).all():
            worst, where = math.nan, f"non-finite predictions on {describe(p)}"
            break
        sfi_wrong = db[:-1, :] - db[1:, :]   # > 0: higher SFI made it worse
        kp_wrong = db[:, 1:] - db[:, :-1]    # > 0: higher Kp made it better
        for name, w in (("SFI", sfi_wrong), ("Kp", kp_wrong)):
            i, j = np.unravel_index(int(np.argmax(w)), w.shape)
            if float(w[i, j]) > worst:
                worst = float(w[i, j])
                where = (f"SFI {sfi[i]:g}→{sfi[i + 1]:g} at Kp {kp[j]:g}" if name == "SFI"
                         else f"Kp {kp[j]:g}→{kp[j + 1]:g} at SFI {sfi[i]:g}") + f" on {describe(p)}"
    n = len(sfi) * len(kp)
    head = (f"SFI 50-400 (step {sfi[1] - sfi[0]:g}) x Kp 0-9 (step {kp[1] - kp[0]:g}) = {n} points on each "
            f"of {len(c['paths'])} paths; ")
    if not math.isfinite(worst):
        return Measurement(math.nan, math.nan, detail=head + where)
    verb = "goes the wrong way by" if worst > 0 else "is still the right way, by"
    return Measurement(worst, worst / SIGMA_DB, detail=head + f"the worst step {verb} {abs(worst):.4f} dB: {where}")


def input_validation(evaluator: Evaluator, spec: TestSpec, c: dict[str, Any]) -> Measurement:
    """Each bad input must be refused with an InputError, never predicted."""
    base = {k: c[k] for k in ("tx", "rx", "band", "hour", "month", "day", "sfi", "kp") if k in c}
    accepted, other = [], []
    for case in c["cases"]:
        q = {**base, **case}
        label = ", ".join(f"{k}={v!r}" for k, v in case.items())
        try:
            evaluator.predict(evaluator.path(q), q["sfi"], q["kp"])
        except InputError:
            continue
        except Exception as exc:  # refused, but with a crash instead of a clear message
            other.append(f"{label} ({type(exc).__name__})")
            continue
        accepted.append(label)
    bad = accepted + other
    detail = f"{len(c['cases'])} out-of-range inputs tried; "
    detail += (f"{len(accepted)} predicted anyway: {'; '.join(accepted)}" if accepted else "none predicted")
    if other:
        detail += f"; {len(other)} failed without a clear message: {'; '.join(other)}"
    return Measurement(value=float(len(bad)), detail=detail)
