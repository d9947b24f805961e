"""The one definition of a dead (or saturated) sidecar, shared by the training metrics, the
sidecar panel and the verification suite. Torch-free, so the UI can import it cheaply.

A weight is pinned when it sits within PIN_TOL of a clamp bound; a sidecar is dead when every
one of its fc1/fc2 weights is pinned at the floor (its "effect" is then only the floor's
arithmetic), saturated when every one is pinned at the ceiling."""

from __future__ import annotations

PIN_TOL = 1e-6


def pinned_share(weights, bound: float) -> float:
    """Share of the weights (a torch tensor or numpy array) within PIN_TOL of bound."""
    near = abs(weights - bound) <= PIN_TOL
    return float(near.sum()) / max(int(near.numel() if hasattr(near, "numel") else near.size), 1)


def is_dead(pinned_low: float | None) -> bool:
    return pinned_low is not None and float(pinned_low) >= 1.0


def is_saturated(pinned_high: float | None) -> bool:
    return pinned_high is not None and float(pinned_high) >= 1.0
