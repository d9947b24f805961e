"""Benchmark: what the live dashboard costs the trainer, and how fast keys answer while training.

    python bench/tui_overhead.py [--rows 400000] [--batch 16384] [--epochs 3] [--repeats 4] [--presses 60]
                                 [--mode detached|keys|both] [--json]

Every run trains in its own process (`ionis-tui train --headless`, rows from a .npy file), the
one path the app has; the app follows it. On the same synthetic signature rows
(engine.train.synthetic):
  1. attached_ratio (--mode detached): pairs of trainer processes, one alone and one with this
     process's app attached to it (--attach: history, then events.jsonl), run back to back in
     alternating order; samples/s per epoch from metrics.jsonl, epoch 1 left out as warm-up;
     the median over pairs of attached / alone (a pair is close in time, so a burst of load
     from other processes hits both of its sides alike). viewer_cpu_share: this process's CPU
     time (UI and follower threads) over wall time while it watches, the viewer's cost in a
     form other processes' load does not move;
  2. ack latency (--mode detached): an app starts a run with s, then presses p --presses times;
     each press is timed from the key event to (a) ack: the trainer's "command received" notice
     reaching the app's state (command file -> trainer -> events.jsonl -> app), and (b) state:
     the state the trainer reported back (paused, then training again). (b) includes waiting
     for the step in progress to end (a step is atomic), so it grows with --batch; step_ms is
     the median step time of that run, for reference;
  3. key latency (--mode keys): an app starts a run with s; while it trains, `?` is pressed
     --presses times, every ~0.5 s, timing each from the key event entering the app (as the
     terminal driver delivers it) to the help screen being current and laid out (then escape);
     then the run is stopped. Pilot.press() is not used for this: it also waits for the whole
     process to go idle, which a training process never does. ui_cpu_share: the event-loop
     thread's CPU time over wall time meanwhile. --mode keys runs this check alone with the app
     attached (--attach) to a trainer process started on --rows rows, which only the trainer
     holds: `--mode keys --rows 20000000` is the check at the user's scale.
Targets: attached_ratio_vs_alone >= 0.95, ack_latency_ms_p95 < 100, key_latency_ms_p95 < 100.
The load average is printed with the result: on a shared machine other processes move
samples/s a lot, which is why the sides of a pair alternate.
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

from engine.model import pick_device  # noqa: E402
from engine.settings import RunsSettings, Settings, TrainSettings  # noqa: E402
from engine.train import events as ev  # noqa: E402
from engine.train.synthetic import synthetic_rows  # noqa: E402
from ionis_tui.app import IonisApp  # noqa: E402
from ionis_tui.screens.dashboard import DashboardScreen  # noqa: E402
from ionis_tui.screens.help import HelpScreen  # noqa: E402

KEY_EVERY_S = 0.5


def steady(history: list[dict]) -> list[float]:
    """Per-epoch samples/s without the warm-up epoch."""
    return [float(m["samples_per_s"]) for m in history if m["epoch"] > 1]


async def until(predicate, timeout: float, step: float = 0.001, what: str = "a key") -> None:
    """Poll with plain asyncio sleeps. Not pilot.pause(): that walks every widget and forces
    a screen refresh on each call, work the app would not do on its own."""
    end = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > end:
            raise SystemExit(f"the app did not react to {what} within {timeout:g} s")
        await asyncio.sleep(step)


async def run_app(settings: Settings, rows, presses: int = 0) -> tuple[list[float], list[float], float]:
    """One app run (the run trains in its own process). presses=0: watch it to the end; else
    press `?` that many times while it trains, then stop the run and return."""
    app = IonisApp(settings, rows=rows)
    latencies: list[float] = []

    def help_shown() -> bool:
        # The effect of `?`: the help screen is current and laid out (its text has a place).
        screen = app.screen
        if not isinstance(screen, HelpScreen):
            return False
        keys = screen.query("#help-keys")
        return bool(keys) and keys.first().region.area > 0
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await until(lambda: app.state.state == ev.TRAINING, 300, 0.05, "s (training)")
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        while len(latencies) < presses and app.state.state in (ev.TRAINING, ev.LOADING):
            await asyncio.sleep(KEY_EVERY_S)
            if app.state.state != ev.TRAINING:
                break
            t0 = time.perf_counter()
            send_key(app, "question_mark", "?")
            await until(help_shown, 10, what="?")
            latencies.append((time.perf_counter() - t0) * 1000.0)
            send_key(app, "escape")
            await until(lambda: isinstance(app.screen, DashboardScreen) and app.screen.is_current, 10,
                        what="escape")
        if presses:
            app.runner.stop()
            await until(lambda: not app.runner.running, 600, 0.1, "stop")
        else:
            await until(lambda: app.state.state == ev.FINISHED, 1800, 0.1, "the end of the run")
        ui_share = (time.thread_time() - cpu0) / (time.perf_counter() - wall0)
        history = list(app.state.history)
    return steady(history), latencies, ui_share


def _trainer(settings: Settings, rows_file: str, run_dir: Path):
    import subprocess

    from ionis_tui.detached import trainer_command

    argv, env, _ = trainer_command(settings, ["--rows-file", rows_file, "--run-dir", str(run_dir)],
                                   folder=str(run_dir.parent))  # removed with the bench's temp folder
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def trainer_alone(settings: Settings, rows_file: str, run_dir: Path) -> list[float]:
    from engine.train.runs import read_metrics

    if _trainer(settings, rows_file, run_dir).wait() != 0:
        raise SystemExit(f"trainer alone failed; see {run_dir}")
    return steady(read_metrics(run_dir))


async def trainer_watched(settings: Settings, rows_file: str, run_dir: Path) -> tuple[list[float], float]:
    """A trainer process with the app attached to it from start to end; its samples/s, and
    the viewer's CPU share (all of this process's threads: UI and follower) while watching."""
    from engine.train.runs import read_metrics, run_info

    proc = _trainer(settings, rows_file, run_dir)
    await until(lambda: (i := run_info(run_dir)) is not None and i.state in (ev.LOADING, ev.TRAINING),
                300, 0.01, "the trainer to start")
    app = IonisApp(settings, check_db=False, attach=str(run_dir))
    async with app.run_test(size=(120, 40)):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await until(lambda: app.state.state == ev.FINISHED, 1800, 0.1, "the end of the run")
        share = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    if proc.wait() != 0:
        raise SystemExit(f"watched trainer failed; see {run_dir}")
    return steady(read_metrics(run_dir)), share


async def ack_latency(settings: Settings, rows, presses: int) -> tuple[list[float], list[float], float]:
    """p pressed in an app following a detached run: ms to the trainer's receipt, ms to the
    state it reports, and the run's median step time in ms."""
    app = IonisApp(settings, rows=rows)
    ack: list[float] = []
    out: list[float] = []

    def received(seq: int, what: str) -> bool:
        return any(line.text == f"command received: {what}" for line in list(app.state.log)[-(app.state.log_seq - seq):])

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await until(lambda: app.state.state == ev.TRAINING, 300, 0.05, "s (training)")
        await asyncio.sleep(1.0)
        for i in range(presses):
            want = ev.PAUSED if i % 2 == 0 else ev.TRAINING
            await asyncio.sleep(KEY_EVERY_S)
            seq, what = app.state.log_seq, "pause" if want == ev.PAUSED else "resume"
            t0 = time.perf_counter()
            send_key(app, "p")
            await until(lambda s=seq, w=what: app.state.log_seq > s and received(s, w), 10, what=f"p ({what}) ack")
            ack.append((time.perf_counter() - t0) * 1000.0)
            await until(lambda w=want: app.state.state == w, 10, what=f"p ({want})")
            out.append((time.perf_counter() - t0) * 1000.0)
        steps = app.state.steps
        app.runner.stop()
        await until(lambda: not app.runner.running, 600, 0.1, "stop")
        m = app.state.history[-1] if app.state.history else {}
    step_ms = 1000.0 * m.get("epoch_s", 0.0) / max(steps, 1)
    return ack, out, step_ms


def detached_main(args: argparse.Namespace, rows, tmp: str) -> dict:
    import numpy as np

    rows_file = str(Path(tmp, "rows.npy"))
    np.save(rows_file, rows.array)
    settings = Settings(train=TrainSettings(epochs=args.epochs, batch_size=args.batch, device=args.device),
                        runs=RunsSettings(dir=tmp))
    pairs = []
    for r in range(args.repeats):
        alone_dir, watched_dir = Path(tmp, f"alone-{r}"), Path(tmp, f"watched-{r}")
        if r % 2 == 0:
            alone = trainer_alone(settings, rows_file, alone_dir)
            watched, share = asyncio.run(trainer_watched(settings, rows_file, watched_dir))
        else:
            watched, share = asyncio.run(trainer_watched(settings, rows_file, watched_dir))
            alone = trainer_alone(settings, rows_file, alone_dir)
        pairs.append({"alone_samples_per_s": round(statistics.mean(alone), 1),
                      "attached_samples_per_s": round(statistics.mean(watched), 1),
                      "ratio": round(statistics.mean(watched) / statistics.mean(alone), 4),
                      "viewer_cpu_share": round(share, 4)})
        if not args.json:
            print(f"detached pair {r + 1}: alone {pairs[-1]['alone_samples_per_s']:,.0f} samples/s, "
                  f"attached {pairs[-1]['attached_samples_per_s']:,.0f} (ratio {pairs[-1]['ratio']:.3f}), "
                  f"viewer {100 * share:.1f}% of a CPU",
                  flush=True)
    long_run = settings.model_copy(update={"train": settings.train.model_copy(update={"epochs": 1000})})
    ack, lat, step_ms = asyncio.run(ack_latency(long_run, rows, args.presses))
    return {"attached_ratio_vs_alone": round(statistics.median(p["ratio"] for p in pairs), 4),
            "viewer_cpu_share": round(statistics.mean(p["viewer_cpu_share"] for p in pairs), 4),
            "ack_latency_ms_p95": round(p95(ack), 2), "ack_latency_ms_p50": round(statistics.median(ack), 2),
            "ack_latency_ms_max": round(max(ack), 2), "ack_presses": len(ack),
            "state_latency_ms_p95": round(p95(lat), 2), "state_latency_ms_p50": round(statistics.median(lat), 2),
            "step_ms": round(step_ms, 1), "detached_pairs": pairs,
            "detached_targets": {"attached_ratio_vs_alone": ">= 0.95", "ack_latency_ms_p95": "< 100"}}


async def keys_attached(settings: Settings, rows_file: str, run_dir: Path, presses: int) -> dict:
    """`?` latency in an app following a detached trainer on the rows in rows_file (mode keys)."""
    import signal

    proc = _trainer(settings, rows_file, run_dir)
    try:
        return await _press_help_attached(settings, run_dir, presses)
    finally:  # the trainer never outlives the bench, whatever happened
        proc.send_signal(signal.SIGTERM)
        proc.wait(600)


async def _press_help_attached(settings: Settings, run_dir: Path, presses: int) -> dict:
    from engine.train.runs import run_info

    t0 = time.perf_counter()
    await until(lambda: (i := run_info(run_dir)) is not None and i.state == ev.TRAINING,
                1800, 0.2, "the trainer to start training")
    ready_s = time.perf_counter() - t0
    app = IonisApp(settings, check_db=False, attach=str(run_dir))
    lat: list[float] = []
    async with app.run_test(size=(120, 40)):
        await until(lambda: app.state.state == ev.TRAINING, 120, 0.05, "the app to attach")
        cpu0, wall0 = time.process_time(), time.perf_counter()
        while len(lat) < presses and app.state.state == ev.TRAINING:
            await asyncio.sleep(KEY_EVERY_S)
            t = time.perf_counter()
            send_key(app, "question_mark", "?")
            await until(lambda: isinstance(app.screen, HelpScreen) and app.screen.query("#help-keys")
                        and app.screen.query("#help-keys").first().region.area > 0, 10, what="?")
            lat.append((time.perf_counter() - t) * 1000.0)
            send_key(app, "escape")
            await until(lambda: isinstance(app.screen, DashboardScreen) and app.screen.is_current, 10,
                        what="escape")
        share = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
        step = (app.state.step, app.state.steps, app.state.samples_per_s)
    if not lat:
        raise SystemExit("no key press landed while the trainer trained")
    return {"key_latency_ms_p95": round(p95(lat), 2), "key_latency_ms_p50": round(statistics.median(lat), 2),
            "key_latency_ms_max": round(max(lat), 2), "key_presses": len(lat),
            "keys_ui_cpu_share": round(share, 4), "trainer_ready_s": round(ready_s, 1),
            "trainer_step_at_end": step[0], "trainer_steps_per_epoch": step[1],
            "trainer_samples_per_s": step[2], "targets": {"key_latency_ms_p95": "< 100"}}


def attached_keys_main(args: argparse.Namespace) -> int:
    """--mode keys: check 3 alone, the app attached to a trainer process on --rows rows (the
    rows live only in the trainer, so --rows 20000000 fits: the user's scale)."""
    import numpy as np

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        rows_file = str(Path(tmp, "rows.npy"))
        np.save(rows_file, synthetic_rows(args.rows, seed=11).array)  # freed before the app starts
        settings = Settings(train=TrainSettings(epochs=1000, batch_size=args.batch, device=args.device),
                            runs=RunsSettings(dir=tmp))
        result = asyncio.run(keys_attached(settings, rows_file, Path(tmp, "keys"), args.presses))
    result.update(mode="keys", rows=args.rows, batch_size=args.batch, cpu_count=os.cpu_count(),
                  loadavg_1min_before=round(load_before[0], 2), loadavg_1min_after=round(os.getloadavg()[0], 2))
    print(json.dumps(result) if args.json else
          f"keys with a {args.rows:,}-row detached run attached: p50 {result['key_latency_ms_p50']:.1f} ms, "
          f"p95 {result['key_latency_ms_p95']:.1f} ms (target < 100) over {result['key_presses']} presses; "
          f"viewer {100 * result['keys_ui_cpu_share']:.1f}% of a CPU; trainer ready after "
          f"{result['trainer_ready_s']:.0f} s; load average {load_before[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


def p95(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


def keys_main(args: argparse.Namespace, rows, tmp: str) -> dict:
    settings = Settings(train=TrainSettings(epochs=1000, batch_size=args.batch, device=args.device),
                        runs=RunsSettings(dir=tmp))
    _, lat, ui_share = asyncio.run(run_app(settings, rows, presses=args.presses))
    if not lat:
        raise SystemExit("no key press landed while training: use more --rows")
    return {"key_latency_ms_p95": round(p95(lat), 2), "key_latency_ms_p50": round(statistics.median(lat), 2),
            "key_latency_ms_max": round(max(lat), 2), "key_presses": len(lat),
            "ui_cpu_share_while_pressing_keys": round(ui_share, 4),
            "keys_targets": {"key_latency_ms_p95": "< 100"}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=400_000)
    ap.add_argument("--batch", type=int, default=16384)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--presses", type=int, default=60, help="key presses in the latency runs")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--mode", choices=("detached", "keys", "both"), default="both",
                    help="attached trainer vs alone and p latency (1, 2); ? latency (3) alone, "
                         "attached to a trainer on --rows rows; or all three")
    args = ap.parse_args()
    if args.mode == "keys":
        return attached_keys_main(args)
    if args.epochs < 2:
        raise SystemExit("--epochs must be >= 2 (epoch 1 is warm-up and not counted)")

    rows = synthetic_rows(args.rows, seed=11)
    load_before = os.getloadavg()
    result: dict = {}
    if args.mode != "keys":
        with tempfile.TemporaryDirectory() as tmp:
            result.update(detached_main(args, rows, tmp))
        if not args.json:
            print(f"attached_ratio_vs_alone {result['attached_ratio_vs_alone']:.3f} (target >= 0.95; viewer "
                  f"{100 * result['viewer_cpu_share']:.1f}% of a CPU); "
                  f"press -> acknowledged p50 {result['ack_latency_ms_p50']:.1f} ms, p95 "
                  f"{result['ack_latency_ms_p95']:.1f} ms (target < 100) over {result['ack_presses']} presses; "
                  f"press -> paused/training p50 {result['state_latency_ms_p50']:.1f} ms, p95 "
                  f"{result['state_latency_ms_p95']:.1f} ms (steps of {result['step_ms']:.0f} ms)", flush=True)
    if args.mode != "detached":
        with tempfile.TemporaryDirectory() as tmp:
            result.update(keys_main(args, rows, tmp))
        if not args.json:
            print(f"? -> help shown p50 {result['key_latency_ms_p50']:.1f} ms, p95 "
                  f"{result['key_latency_ms_p95']:.1f} ms (target < 100) over {result['key_presses']} presses "
                  f"while training; UI thread {100 * result['ui_cpu_share_while_pressing_keys']:.1f}% CPU",
                  flush=True)
    result.update(rows=args.rows, batch_size=args.batch, epochs=args.epochs, repeats=args.repeats,
                  device=pick_device(args.device).type, cpu_count=os.cpu_count(),
                  loadavg_1min_before=round(load_before[0], 2), loadavg_1min_after=round(os.getloadavg()[0], 2))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"load average {load_before[0]:.1f} -> {result['loadavg_1min_after']:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
