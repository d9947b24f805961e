"""Benchmark: how fast keys answer on the matrix screen while a large-batch run trains.

    python bench/matrix_keys.py [--rows 200000] [--batch 65536] [--presses 40] [--json]

The real IonisApp under Textual's Pilot (80x24): the run is started with `s` (it trains in
its own process, competing for the CPUs), the matrix screen opened with `m` on the live model
(the trainer's newest last.pt, re-read every 2 s in a worker). Then `right` (next hour) is
pressed --presses times, every ~0.25 s so that several live polls fall among them, each timed
from the key event entering the app (as the terminal driver delivers it) to the screen holding
the new hour and its recomputed matrix. A large batch makes each step long.
Target: key_latency_ms_p95 < 100.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # pilot_tools (test-only helpers)

from pilot_tools import send_key  # noqa: E402

from engine.settings import RunsSettings, Settings, TrainSettings  # noqa: E402
from engine.train import events as ev  # noqa: E402
from engine.train.synthetic import synthetic_rows  # noqa: E402
from ionis_tui.app import IonisApp  # noqa: E402
from ionis_tui.screens.matrix import MatrixScreen  # noqa: E402

KEY_EVERY_S = 0.25


async def until(predicate, timeout: float, step: float = 0.001, what: str = "a key") -> None:
    end = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > end:
            raise SystemExit(f"the app did not react to {what} within {timeout:g} s")
        await asyncio.sleep(step)


async def measure(settings: Settings, rows, presses: int) -> tuple[list[float], float]:
    """Key latencies (ms) on the matrix screen while training, and the mean step time (s)."""
    app = IonisApp(settings, rows=rows)
    latencies: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await until(lambda: app.state.state == ev.TRAINING and app.state.step > 0, 600, 0.05, "s")
        await pilot.press("m")
        await until(lambda: isinstance(app.screen, MatrixScreen) and app.screen.source_a == "live",
                    60, 0.01, "m")
        scr = app.screen
        while len(latencies) < presses:
            await asyncio.sleep(KEY_EVERY_S)
            hour = scr.path.hour
            t0 = time.perf_counter()
            send_key(app, "right")
            await until(lambda h=hour: scr.path.hour != h and scr.result is not None
                        and scr.result.path.hour == scr.path.hour, 30)
            latencies.append((time.perf_counter() - t0) * 1000.0)
        await until(lambda: bool(app.state.history), 600, 0.1, "the first epoch's end")
        # The epoch's time over its steps.
        step_s = app.state.history[-1]["epoch_s"] / max(app.state.steps, 1)
        app.runner.stop()
        await until(lambda: not app.runner.running, 600, 0.1, "stop")
    return latencies, step_s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=65536)
    ap.add_argument("--presses", type=int, default=40)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = synthetic_rows(args.rows, seed=11)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(train=TrainSettings(epochs=100_000, batch_size=args.batch, device=args.device),
                            runs=RunsSettings(dir=tmp))
        lat, step_s = asyncio.run(measure(settings, rows, args.presses))
    s = sorted(lat)
    result = {
        "key_latency_ms_p50": round(statistics.median(lat), 2),
        "key_latency_ms_p95": round(s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))], 2),
        "key_latency_ms_max": round(max(lat), 2),
        "key_presses": len(lat), "train_step_s": round(step_s, 3),
        "rows": args.rows, "batch_size": args.batch, "cpu_count": os.cpu_count(),
        "loadavg_1min_before": round(load_before[0], 2), "loadavg_1min_after": round(os.getloadavg()[0], 2),
        "targets": {"key_latency_ms_p95": "< 100"},
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"matrix screen key latency p50 {result['key_latency_ms_p50']:.1f} ms, p95 "
              f"{result['key_latency_ms_p95']:.1f} ms, max {result['key_latency_ms_max']:.1f} ms over "
              f"{len(lat)} presses (target p95 < 100) while training steps take {step_s:.2f} s "
              f"(batch {args.batch}); load average {load_before[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
