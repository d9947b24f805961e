"""SFI x Kp matrix explorer: how one path responds to solar flux and geomagnetic storms."""

from engine.matrix.compute import (
    TOLERANCE_SIGMA,
    HourCurve,
    MatrixDiff,
    MatrixResult,
    check_units,
    compare,
    compute_matrix,
    difference,
    find_violations,
    hour_curve,
    make_path,
)
from engine.matrix.facts import PathFacts, light_label, path_facts
from engine.matrix.values import DEFAULT_KP, DEFAULT_SFI, parse_values

__all__ = [
    "DEFAULT_KP", "DEFAULT_SFI", "TOLERANCE_SIGMA", "HourCurve", "MatrixDiff", "MatrixResult",
    "PathFacts", "check_units", "compare", "compute_matrix", "difference", "find_violations",
    "hour_curve", "light_label", "make_path", "parse_values", "path_facts",
]
