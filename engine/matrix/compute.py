"""The SFI x Kp matrix of one path: every cell and its terms in one batched forward pass,
the monotonicity check, the 24-hour curve and the A - B difference for comparing two models."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.checkpoint import LoadedModel
from engine.errors import CheckpointError, InputError
from engine.matrix.facts import PathFacts, path_facts
from engine.matrix.values import kp_values, sfi_values
from engine.predict import Path_, band_norm, predict_parts

# A cell may be this much "wrong" (in sigma) before it counts as a violation. It only absorbs
# float32 rounding (~1e-7 relative); any real reversal of the physics is far larger.
TOLERANCE_SIGMA = 1e-6
UNITS = ("db", "sigma")
TERMS = ("sigma", "db", "base", "sun_gate", "storm_gate", "sun", "storm")


def make_path(tx, rx, band, hour, month, day=None) -> Path_:
    """Path_.parse plus the checks it leaves out: month and day must be whole numbers."""
    for name, v in (("month", month), ("day of year", day)):
        if v is None:
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a whole number, got {v!r}") from None
        if not np.isfinite(f) or f != int(f):
            raise InputError(f"{name} must be a whole number, got {v!r}")
    return Path_.parse(tx, rx, band, hour, month, day)


def check_units(units: str) -> str:
    u = str(units).strip().lower()
    if u not in UNITS:
        raise InputError(f"unknown units {units!r}: use db or sigma")
    return u


def find_violations(sigma: np.ndarray, sfi: np.ndarray, kp: np.ndarray, db_per_sigma: float,
                    tol: float = TOLERANCE_SIGMA) -> list[dict]:
    """Adjacent cells that break the physics: down a column (higher SFI) the prediction must not
    fall; along a row (higher Kp) it must not rise. Axes must be ascending. Each violation names
    its two cells [row, col], their SFI/Kp and the size of the wrong-way step (sigma and dB)."""
    sigma = np.asarray(sigma, dtype=np.float64)
    out: list[dict] = []
    drop = sigma[:-1, :] - sigma[1:, :]          # positive = higher SFI is worse
    for i, j in zip(*np.nonzero(drop > tol), strict=True):
        d = float(drop[i, j])
        out.append({"kind": "sfi", "cells": [[int(i), int(j)], [int(i) + 1, int(j)]],
                    "sfi": [float(sfi[i]), float(sfi[i + 1])], "kp": [float(kp[j]), float(kp[j])],
                    "by_sigma": d, "by_db": d * db_per_sigma,
                    "message": f"SFI {sfi[i]:g} -> {sfi[i + 1]:g} at Kp {kp[j]:g} is worse by "
                               f"{d:.4f} sigma ({d * db_per_sigma:.2f} dB)"})
    rise = sigma[:, 1:] - sigma[:, :-1]          # positive = higher Kp is better
    for i, j in zip(*np.nonzero(rise > tol), strict=True):
        d = float(rise[i, j])
        out.append({"kind": "kp", "cells": [[int(i), int(j)], [int(i), int(j) + 1]],
                    "sfi": [float(sfi[i]), float(sfi[i])], "kp": [float(kp[j]), float(kp[j + 1])],
                    "by_sigma": d, "by_db": d * db_per_sigma,
                    "message": f"Kp {kp[j]:g} -> {kp[j + 1]:g} at SFI {sfi[i]:g} is better by "
                               f"{d:.4f} sigma ({d * db_per_sigma:.2f} dB)"})
    return out


def _db_per_sigma(lm: LoadedModel, path: Path_) -> float:
    return float(band_norm(lm, path.band.id)[1])


@dataclass
class MatrixResult:
    path: Path_
    facts: PathFacts
    model: str                      # label of the model that produced it
    sfi: np.ndarray                 # (S,) ascending
    kp: np.ndarray                  # (K,) ascending
    terms: dict[str, np.ndarray]    # each (S, K) float32: TERMS; sun/storm = gate * sidecar
    db_per_sigma: float
    violations: list[dict] = field(default_factory=list)
    tolerance: float = TOLERANCE_SIGMA

    @property
    def sigma(self) -> np.ndarray:
        return self.terms["sigma"]

    @property
    def db(self) -> np.ndarray:
        return self.terms["db"]

    def values(self, units: str) -> np.ndarray:
        return self.terms[check_units(units)]

    def cell(self, i: int, j: int) -> dict[str, float]:
        """One cell's decomposition; the raw sidecar outputs are recovered as term / gate
        (gates lie in [0.5, 2], never zero)."""
        c = {k: float(v[i, j]) for k, v in self.terms.items()}
        c["sfi"], c["kp"] = float(self.sfi[i]), float(self.kp[j])
        c["sun_sidecar"] = c["sun"] / c["sun_gate"]
        c["storm_sidecar"] = c["storm"] / c["storm_gate"]
        return c


def compute_matrix(lm: LoadedModel, path: Path_, sfi=None, kp=None,
                   tol: float = TOLERANCE_SIGMA) -> MatrixResult:
    """The whole S x K grid in ONE forward pass (sfi[:, None] broadcast against kp[None, :])."""
    s = sfi_values(sfi)
    k = kp_values(kp)
    terms = predict_parts(lm, path, s[:, None], k[None, :])
    if not np.isfinite(terms["sigma"]).all():
        # NaN compares false both ways: the monotonicity check would report "OK" over it.
        raise CheckpointError(f"{lm.label} predicts NaN or infinite SNR on this path; the "
                              f"weights are damaged or diverged: use another checkpoint")
    dps = _db_per_sigma(lm, path)
    return MatrixResult(path=path, facts=path_facts(path), model=lm.label, sfi=s, kp=k,
                        terms={t: terms[t] for t in TERMS}, db_per_sigma=dps,
                        violations=find_violations(terms["sigma"], s, k, dps, tol), tolerance=tol)


@dataclass
class HourCurve:
    sfi: float
    kp: float
    hours: np.ndarray               # (24,) 0..23 UTC
    terms: dict[str, np.ndarray]    # each (24,)

    def values(self, units: str) -> np.ndarray:
        return self.terms[check_units(units)]


def hour_curve(lm: LoadedModel, path: Path_, sfi: float, kp: float) -> HourCurve:
    """Predictions for UTC hours 0..23 at one SFI/Kp, batched in one forward pass."""
    s = float(sfi_values([sfi])[0])
    k = float(kp_values([kp])[0])
    hours = np.arange(24, dtype=np.float64)
    terms = predict_parts(lm, path, s, k, hour=hours)
    return HourCurve(sfi=s, kp=k, hours=hours, terms={t: terms[t] for t in TERMS})


@dataclass
class MatrixDiff:
    """A - B on identical inputs: positive cells are where model A predicts the stronger signal."""
    a: MatrixResult
    b: MatrixResult
    sigma: np.ndarray
    db: np.ndarray

    def values(self, units: str) -> np.ndarray:
        return self.sigma if check_units(units) == "sigma" else self.db

    @property
    def sfi(self) -> np.ndarray:
        return self.a.sfi

    @property
    def kp(self) -> np.ndarray:
        return self.a.kp


def difference(a: MatrixResult, b: MatrixResult) -> MatrixDiff:
    if a.path != b.path or not (np.array_equal(a.sfi, b.sfi) and np.array_equal(a.kp, b.kp)):
        raise InputError("matrices differ in path or SFI/Kp axes; compare them on the same inputs")
    return MatrixDiff(a=a, b=b, sigma=(a.sigma - b.sigma).astype(np.float32),
                      db=(a.db - b.db).astype(np.float32))


def compare(lm_a: LoadedModel, lm_b: LoadedModel, path: Path_, sfi=None, kp=None) -> MatrixDiff:
    return difference(compute_matrix(lm_a, path, sfi, kp), compute_matrix(lm_b, path, sfi, kp))
