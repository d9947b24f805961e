"""Measurement kinds judged on real observations: a known path's predicted SNR against the
decode floor, and the model's skill against baselines (engine.evaluate), per band or overall."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.bands import BY_NAME
from engine.errors import InputError
from engine.verify.evaluator import Evaluator, Measurement, describe, space_weather
from engine.verify.override import override_sigma

if TYPE_CHECKING:
    from engine.verify.spec import TestSpec

BASELINE_CHOICES = ("band_mean", "band_climatology", "band_hour_climatology", "a_and_b")


def path_snr(evaluator: Evaluator, spec: TestSpec, c: dict[str, Any]) -> Measurement:
    """The predicted SNR (dB) of one path at the test's conditions; with `override = true`
    also the sigma after the peer's PhysicsOverrideLayer (the KI7MT group)."""
    path = evaluator.path(c)
    r = evaluator.predict(path, float(c["sfi"]), float(c["kp"]))
    db, sigma = float(r["db"]), float(r["sigma"])
    m = Measurement(value_db=db, value_sigma=sigma,
                    detail=f"{describe(c)} {space_weather(c)}: predicted {db:+.1f} dB ({sigma:+.3f}σ)")
    if c.get("override"):
        ovr, fired = override_sigma([sigma], [path])
        m.override = (float(ovr[0]), int(fired.sum()))
        m.detail += (f"; override clamps it to {ovr[0]:+.3f}σ" if fired[0] else "; override does not fire")
    return m


def _evaluation(evaluator: Evaluator):
    """The evaluation of this evaluator's model on the configured source, computed once per
    suite run; a string when there is none (the reason the skill tests are n/a)."""
    cached = getattr(evaluator, "skill_result", None)
    if cached is not None:
        return cached
    source = getattr(evaluator, "skill_source", None)
    if source is None:
        result = "no real-spot source configured (settings [evaluate] spots or table)"
    elif isinstance(source, str):
        result = source
    else:
        result = source(evaluator.lm)
    evaluator.skill_result = result
    return result


def _skill_of(block: dict, name: str) -> tuple[float | None, str]:
    b = block["baselines"][name]
    if "na" in b:
        return None, f"{name} n/a ({b['na']})"
    return b["skill"], f"{name} RMSE {b['rmse_db']:.2f} dB"


def skill(evaluator: Evaluator, spec: TestSpec, c: dict[str, Any]) -> Measurement:
    """skill = 1 - MSE_model / MSE_baseline at spot level (signature level for a signature
    source), overall or on one band; 'a_and_b' judges the smaller of the two skills."""
    which = c.get("baseline", "band_mean")
    if which not in BASELINE_CHOICES:
        raise InputError(f"baseline must be one of {', '.join(BASELINE_CHOICES)}, got {which!r}")
    band = c.get("skill_band", "all")
    if band != "all" and band not in BY_NAME:
        raise InputError(f"skill_band {band!r} is not a band name (e.g. 20m) or 'all'")
    ev_ = _evaluation(evaluator)
    if isinstance(ev_, str):
        return Measurement(na=ev_)
    level = ev_.report["levels"].get("spots") or ev_.report["levels"]["signatures"]
    block = level["overall"] if band == "all" else level["bands"].get(band, {"na": "no spots on this band"})
    if "na" in block:
        return Measurement(na=f"{band}: {block['na']}")
    names = ("band_mean", "band_climatology") if which == "a_and_b" else (which,)
    got = [_skill_of(block, n) for n in names]
    values = [v for v, _ in got if v is not None]
    if not values:
        return Measurement(na="; ".join(t for _, t in got))
    value = min(values)
    m = block["model"]
    r = "n/a" if m["pearson"] is None else f"{m['pearson']:+.3f}"
    detail = (f"{band} n {m['n']:,}: model RMSE {m['rmse_db']:.2f} dB, r {r}; "
              + "; ".join(t for _, t in got) + f"; skill {value:+.3f}")
    return Measurement(value=value, detail=detail)
