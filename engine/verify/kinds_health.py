"""Measurement kinds that look inside the model or compare it with the demo truth: sidecar
health (alive, effect above the all-at-floor value) and ground-truth sun/storm effects."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.bands import SIGMA_DB
from engine.errors import InputError
from engine.features import kp_feature, sfi_feature
from engine.geo import day_of_year
from engine.sidecar_health import is_dead, pinned_share
from engine.verify.evaluator import Evaluator, Measurement, describe, pair

if TYPE_CHECKING:
    from engine.verify.spec import TestSpec


def sidecar_health(evaluator: Evaluator, spec: TestSpec, c: dict[str, Any]) -> Measurement:
    """Alive = not every weight pinned at the clamp floor; effect = raw sidecar output change
    over the test's input range, which must beat the same sidecar with all weights at the floor."""
    which = c["sidecar"]
    if which not in ("sun", "storm"):
        raise InputError(f"sidecar must be 'sun' or 'storm', got {which!r}")
    floor = float(c.get("floor", 0.5))
    margin = float(c.get("margin_sigma", 0.05))
    sc = evaluator.lm.model.sidecars()[which]
    if which == "sun":
        lo, hi = pair(c, "sfi")
        x = sfi_feature([lo, hi])
        span = f"SFI {lo:g}→{hi:g}"
    else:
        lo, hi = pair(c, "kp")
        x = kp_feature([hi, lo])  # storm input is 1 - Kp/9: the quiet end is the larger input
        span = f"Kp {hi:g}→{lo:g}"
    xt = torch.tensor(np.asarray(x, dtype=np.float32)[:, None])
    with torch.no_grad():
        w = torch.cat([sc.fc1.weight.abs().flatten(), sc.fc2.weight.abs().flatten()])
        y = sc(xt).squeeze(-1)
        dead = copy.deepcopy(sc)  # a private copy: the model itself is never touched
        dead.fc1.weight.fill_(floor)
        dead.fc2.weight.fill_(floor)
        yd = dead(xt).squeeze(-1)
    effect = float(y[1] - y[0])
    floor_effect = float(yd[1] - yd[0])
    share = pinned_share(w, floor)
    pinned = int(round(share * w.numel()))
    alive = not is_dead(share)
    strong = effect >= floor_effect + margin
    verdict = bool(alive and strong and math.isfinite(effect))
    state = "alive" if alive else f"DEAD (all {w.numel()} weights pinned at the {floor:g} floor)"
    if alive and pinned:
        state = f"alive ({pinned}/{w.numel()} weights at the floor)"
    return Measurement(effect * SIGMA_DB, effect, verdict=verdict, extra={"floor_effect_sigma": floor_effect,
                       "weights_at_floor": pinned, "weights": int(w.numel())},
                       threshold=f"alive and > {floor_effect + margin:.3f} σ",
                       detail=f"{which} sidecar {state}; raw effect {span} {effect:+.4f}σ vs "
                       f"{floor_effect:.4f}σ for an all-floor sidecar (+{margin:g}σ margin required)")


def _truth(evaluator: Evaluator, spec: TestSpec, c: dict[str, Any], which: str) -> Measurement:
    """The model's effect on each reference path vs the demo generator's true effect.
    Each path must be within max(tolerance_db, tolerance_rel * |true effect|): effects range
    from a few dB to 15+ dB across paths, so a purely absolute tolerance would be too loose
    on small effects or too tight on large ones."""
    try:
        from engine.demo.truth import true_snr_db
    except ImportError as exc:
        return Measurement(na=f"the demo generator's truth (engine.demo.truth) cannot be imported: {exc}")
    lo, hi = pair(c, "sfi" if which == "sun" else "kp")
    tol_db, tol_rel = float(c.get("tolerance_db", 2.0)), float(c.get("tolerance_rel", 0.3))
    worst, worst_sig, ok, parts = 0.0, 0.0, True, []
    for p in c["paths"]:
        path = evaluator.path(p)
        if which == "sun":
            r = evaluator.predict(path, [lo, hi], p["kp"])
            sfi_a, kp_a = np.array([lo, hi], float), np.full(2, float(p["kp"]))
            model = r["db"][1] - r["db"][0]
        else:
            r = evaluator.predict(path, p["sfi"], [lo, hi])
            sfi_a, kp_a = np.full(2, float(p["sfi"])), np.array([lo, hi], float)
            model = r["db"][0] - r["db"][1]
        doy = day_of_year(path.month, path.day)
        t = np.asarray(true_snr_db(path.tx[0], path.tx[1], path.rx[0], path.rx[1], float(path.band.freq_hz),
                                   path.hour, doy, sfi_a, kp_a), dtype=np.float64)
        true = t[1] - t[0] if which == "sun" else t[0] - t[1]
        err = float(model - true)
        allowed = max(tol_db, tol_rel * abs(true))
        inside = math.isfinite(err) and abs(err) <= allowed
        ok = ok and inside
        parts.append(f"{describe(p)} model {model:+.2f} vs true {true:+.2f} dB{'' if inside else ' (off)'}")
        if not math.isfinite(err) or abs(err) >= abs(worst):
            worst, worst_sig = err, err / path.band.snr_std
    effect = "sun benefit SFI" if which == "sun" else "storm cost Kp"
    return Measurement(abs(worst), abs(worst_sig), verdict=ok,
                       threshold=f"each path within max({tol_db:g} dB, {tol_rel:.0%})",
                       detail=f"{effect} {lo:g}→{hi:g}: " + "; ".join(parts)
                       + f"; largest error {abs(worst):.2f} dB")


def truth_sun(evaluator: Evaluator, spec: TestSpec, c: dict[str, Any]) -> Measurement:
    return _truth(evaluator, spec, c, "sun")


def truth_storm(evaluator: Evaluator, spec: TestSpec, c: dict[str, Any]) -> Measurement:
    return _truth(evaluator, spec, c, "storm")
