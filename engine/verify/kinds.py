"""The registry of measurement kinds a test in tests.toml can name. Each kind reads its
conditions, makes a few vectorised predictions (never touching a training model) and returns a
Measurement; engine.verify.runner judges it against the test's rule. A new kind is a function
in one of the kinds_* modules plus one line here; a new test of an existing kind is data only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.verify.evaluator import Evaluator, Measurement
from engine.verify.kinds_group import group_gates
from engine.verify.kinds_health import sidecar_health, truth_storm, truth_sun
from engine.verify.kinds_physics import (
    band_diff,
    band_order,
    delta_kp,
    delta_sfi,
    hour_diff,
    peak_hour_in,
    peak_to_trough,
    storm_ratio,
)
from engine.verify.kinds_robust import (
    band_range,
    determinism,
    input_validation,
    monotonic_grid,
    smoothness,
    sweep_jump,
)
from engine.verify.kinds_skill import path_snr, skill

if TYPE_CHECKING:
    from engine.verify.spec import TestSpec

__all__ = ["KINDS", "Evaluator", "Kind", "Measurement"]


PATH = ("tx", "rx", "band", "hour", "month", "day", "sfi", "kp")


@dataclass(frozen=True)
class Kind:
    fn: Callable[[Evaluator, TestSpec, dict[str, Any]], Measurement]
    uses: tuple[str, ...]            # condition keys the kind reads
    required: tuple[str, ...] = ()   # of those, the ones that must be present after defaults
    judges_itself: bool = False      # no 'pass' rule: the kind returns a verdict
    aggregate: bool = False          # a verdict over the group's other results: reported, not counted


def _k(fn, extra: Sequence[str] = (), path: bool = True, required: Sequence[str] = (), judges=False,
       aggregate=False) -> Kind:
    uses = (PATH if path else ()) + tuple(extra)
    req = (tuple(k for k in PATH if k != "day") if path else ()) + tuple(required)
    return Kind(fn, uses, req, judges, aggregate)


KINDS: dict[str, Kind] = {
    "delta_sfi": _k(delta_sfi),
    "delta_kp": _k(delta_kp),
    "storm_ratio": _k(storm_ratio, ("ref_tx", "ref_rx"), required=("ref_tx", "ref_rx")),
    "band_diff": _k(band_diff, ("bands",), required=("bands",)),
    "hour_diff": _k(hour_diff, ("hours",), required=("hours",)),
    "band_order": _k(band_order, ("better", "worse", "override"), required=("better", "worse")),
    "peak_hour_in": _k(peak_hour_in),
    "peak_to_trough": _k(peak_to_trough),
    "determinism": _k(determinism, ("paths",), path=False),
    "smoothness": _k(smoothness, ("paths", "relative_step"), path=False),
    "sweep_jump": _k(sweep_jump, ("paths",), path=False),
    "band_range": _k(band_range, ("paths",), path=False),
    "monotonic_grid": _k(monotonic_grid, ("paths", "sfi_step", "kp_step"), path=False),
    "path_snr": _k(path_snr, ("override",)),
    "group_gates": _k(group_gates, ("raw_hard_pass", "acid"), path=False, required=("raw_hard_pass", "acid"),
                      judges=True, aggregate=True),
    "skill": _k(skill, ("baseline", "skill_band"), path=False),
    "input_validation": _k(input_validation, ("cases",), required=("cases",)),
    "sidecar_health": _k(sidecar_health, ("sidecar", "sfi", "kp", "floor", "margin_sigma"), path=False,
                         required=("sidecar",), judges=True),
    "truth_sun": _k(truth_sun, ("paths", "sfi", "tolerance_db", "tolerance_rel"), path=False,
                    required=("sfi",), judges=True),
    "truth_storm": _k(truth_storm, ("paths", "kp", "tolerance_db", "tolerance_rel"), path=False,
                      required=("kp",), judges=True),
}
