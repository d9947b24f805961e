"""How long the SFI x Kp explorer takes to compute: a 6 x 10 matrix (one batched forward pass)
and the 24-hour curve, on the published V22 checkpoint if present, else a fresh V22 model.

    python bench/matrix_speed.py [--repeats 200] [--checkpoint PATH | --fresh] [--json]

Target (issue 5): matrix_ms < 50 on the development machine (2 CPU cores). The ratio
matrix_ms / target_ms is printed so a run on any machine reads as "fraction of the budget".
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.checkpoint import LoadedModel, load_model  # noqa: E402
from engine.matrix import compute_matrix, hour_curve, make_path  # noqa: E402
from engine.model import IonisGate  # noqa: E402
from engine.model_sources import published_v22  # noqa: E402

TARGET_MS = 50.0


def _model(checkpoint: str | None, fresh: bool) -> LoadedModel:
    if checkpoint:
        return load_model(checkpoint)
    ref = None if fresh else published_v22()
    if ref is not None:
        return load_model(ref)
    m = IonisGate("v22").eval()
    return LoadedModel(m, m.feature_set, Path("fresh-v22"), "fresh")


def _times_ms(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return times


def _p90(times: list[float]) -> float:
    return statistics.quantiles(times, n=10)[-1] if len(times) > 1 else times[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--checkpoint", help="default: published V22, else a fresh model")
    ap.add_argument("--fresh", action="store_true", help="use a freshly initialised V22 model")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    lm = _model(a.checkpoint, a.fresh)
    path = make_path("W3", "G", "20m", 12, 6, 172)
    for _ in range(10):   # warm-up: first calls pay for allocator and kernel selection
        compute_matrix(lm, path)
        hour_curve(lm, path, 150, 2)
    r = compute_matrix(lm, path)
    shape = list(r.sigma.shape)
    mt = _times_ms(lambda: compute_matrix(lm, path), a.repeats)
    ct = _times_ms(lambda: hour_curve(lm, path, 150, 2), a.repeats)
    matrix_ms, curve_ms = statistics.median(mt), statistics.median(ct)
    # p90 shows how much other load on the machine (CPU contention) disturbed this run.
    res = {"matrix_ms": round(matrix_ms, 3), "matrix_p90_ms": round(_p90(mt), 3),
           "curve_ms": round(curve_ms, 3), "curve_p90_ms": round(_p90(ct), 3), "shape": shape,
           "target_ms": TARGET_MS, "ratio_to_target": round(matrix_ms / TARGET_MS, 4),
           "repeats": a.repeats, "model": lm.label}
    if a.json:
        print(json.dumps(res))
    else:
        print(f"model {lm.label}")
        print(f"{shape[0]} x {shape[1]} matrix: {matrix_ms:.2f} ms median of {a.repeats} "
              f"(p90 {_p90(mt):.2f} ms; {matrix_ms / TARGET_MS:.1%} of the {TARGET_MS:g} ms target)")
        print(f"24-hour curve: {curve_ms:.2f} ms median (p90 {_p90(ct):.2f} ms)")
    return 0 if matrix_ms < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
