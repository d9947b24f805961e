"""How long the whole verification suite takes on one model (issue 4 target: < 2 s on the
development machine, 2 CPU cores, for the 205k-parameter V22 model).

    python bench/verify_suite.py [--repeats 5] [--checkpoint PATH] [--json]

Uses the published V22 checkpoint if present, else a fresh V22 model (same size and cost).
Prints suite_seconds (median of the repeats, after one warm-up run), its ratio to the 2 s
target, the number of forward passes and rows, and, measured in the same run, the time of one
forward pass over the same number of rows: overhead_ratio = suite_seconds / that time says how
much of the suite is per-call and per-test work rather than arithmetic. Exit 1 if over target.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine.checkpoint import LoadedModel, load_model  # noqa: E402
from engine.model import IonisGate  # noqa: E402
from engine.model_sources import published_v22  # noqa: E402
from engine.verify import load_specs, run_suite  # noqa: E402

TARGET_S = 2.0


def _model(checkpoint: str | None) -> LoadedModel:
    if checkpoint:
        return load_model(checkpoint)
    if (v22 := published_v22()) is not None:
        return load_model(v22)
    m = IonisGate("v22").eval()
    return LoadedModel(m, m.feature_set, Path("fresh-v22"), "fresh")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--checkpoint", help="default: published V22, else a fresh model")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    lm = _model(a.checkpoint)
    specs = [s for s in load_specs() if s.group != "skill"]  # the skill group: bench/evaluate_speed.py
    first = run_suite(lm, specs, truth=True)   # warm-up; truth on so every test does its work
    times = [run_suite(lm, specs, truth=True).seconds for _ in range(max(1, a.repeats))]
    suite_s = statistics.median(times)
    x = torch.randn(first.rows, lm.feature_set.input_dim)
    with torch.no_grad():
        lm.model.parts(x)
        t0 = time.perf_counter()
        lm.model.parts(x)
        one_pass_s = time.perf_counter() - t0
    params = sum(p.numel() for p in lm.model.parameters())
    res = {"suite_seconds": round(suite_s, 4), "target_seconds": TARGET_S,
           "ratio_to_target": round(suite_s / TARGET_S, 4), "tests": len(first.results),
           "forward_passes": first.forward_passes, "rows": first.rows,
           "one_pass_seconds": round(one_pass_s, 4), "overhead_ratio": round(suite_s / one_pass_s, 2),
           "repeats": len(times), "min_seconds": round(min(times), 4), "max_seconds": round(max(times), 4),
           "params": params, "model": lm.label, "torch_threads": torch.get_num_threads()}
    if a.json:
        print(json.dumps(res))
    else:
        print(f"model {lm.label} ({params:,} parameters, {torch.get_num_threads()} torch threads)")
        print(f"suite: {len(first.results)} tests, {first.forward_passes} forward passes, {first.rows} rows")
        print(f"suite_seconds {suite_s:.3f} s median of {len(times)} (min {min(times):.3f}, max {max(times):.3f}); "
              f"{suite_s / TARGET_S:.1%} of the {TARGET_S:g} s target")
        print(f"one forward pass over all {first.rows} rows: {one_pass_s * 1000:.1f} ms "
              f"(suite / one pass = {suite_s / one_pass_s:.1f}x)")
    return 0 if suite_s < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
