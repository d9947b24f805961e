"""`ionis-tui train`: a headless training run with one line per epoch; Ctrl-C stops cleanly."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.interrupts import on_first_ctrl_c
from engine.errors import InputError
from engine.limits import MAX_EPOCHS

if TYPE_CHECKING:  # pydantic is loaded only once a command runs
    from engine.settings import Settings
from engine.train import events as ev

EXIT_FAILED, EXIT_INPUT, EXIT_STOPPED, EXIT_TERMINATED = 1, 2, 130, 143


def _whole(least: int, most: int | None = None):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if v < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {v}")
        if most is not None and v > most:
            raise argparse.ArgumentTypeError(f"must be at most {most}, got {v}")
        return v
    return parse


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a model (headless, one line per epoch)",
                       description="Train IONIS from the configured signature table. Writes "
                                   "runs/<run-id>/ (metrics.jsonl, last.pt, best.safetensors). "
                                   "Ctrl-C saves last.pt and stops; --resume continues.")
    # `train` is always headless; the flag is accepted (scripts, the app's trainer command) but
    # not offered, since it changes nothing.
    p.add_argument("--headless", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--epochs", type=_whole(1, MAX_EPOCHS), help="epochs (default train.epochs; on --resume, "
                                                    "the run's own total)")
    p.add_argument("--limit-rows", type=_whole(0), metavar="N",
                   help="train on a seeded sample of N rows, 0 = all (default train.limit_rows)")
    p.add_argument("--run-dir", metavar="DIR", help="folder for this run (default runs.dir/<run-id>)")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its last.pt")
    p.add_argument("--force", action="store_true",
                   help="with --resume: continue even though the run's data changed (table, kind, rows), "
                        "as a new phase of the run (recorded in metrics.jsonl and shown by `runs`)")
    p.add_argument("--rows-file", metavar="NPY",
                   help="train on rows saved with numpy.save (a (N, 12) float32 SignatureRows "
                        "array) instead of the database: benchmarks and tests")
    p.set_defaults(run=run)


def _effective_settings(args: argparse.Namespace, settings: Settings) -> Settings:
    if args.resume:
        from engine.train.rundir import RunFolder, load_run_settings

        if args.run_dir:
            raise InputError("--run-dir and --resume exclude each other: --resume continues its own folder")
        if args.limit_rows is not None:
            raise InputError("--limit-rows cannot change on --resume: the run keeps the rows it started with")
        RunFolder.open(args.resume)  # a clear error for a folder that is not a resumable run
        # Today's settings go to the session, which keeps the run's recipe and says what it took.
        epochs = args.epochs or load_run_settings(args.resume).train.epochs
        return settings.model_copy(update={"train": settings.train.model_copy(update={"epochs": epochs})})
    if args.force:
        raise InputError("--force applies to --resume only (a resume on changed data)")
    upd = {}
    if args.epochs:
        upd["epochs"] = args.epochs
    if args.limit_rows is not None:
        upd["limit_rows"] = args.limit_rows
    return settings.model_copy(update={"train": settings.train.model_copy(update=upd)}) if upd else settings


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def epoch_line(m: dict) -> str:
    def f(key: str, spec: str) -> str:
        v = m.get(key)
        return "-" if v is None else format(v, spec)
    return (f"epoch {m['epoch']}/{m['epochs']}  train {f('train_loss', '.4f')}  val {f('val_loss', '.4f')}  "
            f"RMSE {f('val_rmse_db', '.2f')} dB  r {f('val_pearson', '+.4f')}  "
            f"sun {f('sun_effect_db', '+.2f')} dB  storm {f('storm_effect_db', '+.2f')} dB  "
            f"{f('samples_per_s', ',.0f')} samples/s  ETA {_fmt_s(m.get('eta_s'))}")


class _Printer:
    """on_event for the CLI: epochs to stdout, loading progress and notices to stderr."""

    def __init__(self) -> None:
        self._last_load = 0.0
        self.started = False  # a failure before RunStarted is a data/settings problem (exit 2)

    def __call__(self, e: ev.Event) -> None:
        if isinstance(e, ev.LoadProgress):
            now = time.monotonic()
            if now - self._last_load >= 1.0 or (e.rows_total and e.rows_done >= e.rows_total):
                self._last_load = now
                total = f"/{e.rows_total:,}" if e.rows_total else ""
                print(f"loading rows: {e.rows_done:,}{total}", file=sys.stderr, flush=True)
        elif isinstance(e, ev.RunStarted):
            self.started = True
            start = f", from epoch {e.start_epoch}" if e.start_epoch > 1 else ""
            src = f" from {e.data_source}" if e.data_source else ""
            print(f"run {e.run_id}: {e.rows_train:,} train / {e.rows_val:,} validation rows{src}, "
                  f"{e.epochs} epochs{start}, {e.params:,} parameters on {e.device}; folder {e.run_dir}",
                  flush=True)
        elif isinstance(e, ev.EpochEnd):
            print(epoch_line(e.metrics), flush=True)
        elif isinstance(e, ev.Notice):
            print(f"{e.level}: {e.text}", file=sys.stderr, flush=True)
        elif isinstance(e, ev.CheckpointSaved) and e.kind == "manual":
            print(f"checkpoint saved: {e.path}", file=sys.stderr, flush=True)


def _stop_on_termination(session) -> tuple[dict, object]:
    """SIGTERM (a service manager, `kill`) and SIGHUP (a dropped terminal) stop the run like
    Ctrl-C: last.pt saved, state.json marked stopped, exit 128+signal (143 for SIGTERM);
    one that was ignored when the trainer started (nohup) is left ignored.
    Returns ({"signal": n} once one arrived, a function restoring the old handlers)."""
    got: dict = {}
    wanted = [s for s in ("SIGTERM", "SIGHUP") if hasattr(signal, s)]

    def on_signal(signum, frame):
        got.setdefault("signal", signum)
        print(f"\nstopping on {signal.Signals(signum).name}: saving last.pt", file=sys.stderr, flush=True)
        session.stop()

    # A signal ignored by whoever started us (`nohup` ignores SIGHUP) stays ignored: the
    # caller asked for the run to outlive that signal.
    old = {name: signal.signal(getattr(signal, name), on_signal) for name in wanted
           if signal.getsignal(getattr(signal, name)) is not signal.SIG_IGN}

    def restore() -> None:
        for name, handler in old.items():
            signal.signal(getattr(signal, name), handler)
    return got, restore


def _rows_file(path: str):
    import numpy as np

    from engine.data.rows import SignatureRows

    try:
        return SignatureRows(np.load(path, allow_pickle=False))
    except (OSError, ValueError) as exc:
        raise InputError(f"--rows-file {path}: {exc}") from None


def _loader(settings_of, notify):
    """The session's rows loader; settings_of() gives the session's settings (on resume: the
    run's own sample, not today's)."""
    from engine.data.client import close_all, connect
    from engine.data.loader import load_rows
    from engine.train.memory import ensure_fits

    def loader(progress, cancel):
        db, tr = settings_of().database, settings_of().train
        # Too many rows for this machine's memory: said before a row is read.
        rows = load_rows(connect(db), db, limit_rows=tr.limit_rows, seed=tr.seed,
                         val_fraction=tr.val_fraction, progress=progress, cancel=cancel,
                         before_read=lambda n: ensure_fits(n, tr.feature_set))
        report = getattr(rows, "report", None)
        if report is not None:
            print(f"data: {report.summary()}", file=sys.stderr, flush=True)
            notify(ev.Notice("info", f"data: {report.summary()}"))  # to viewers, not printed twice
        # The rows are in memory: release the embedded engine (one process at a time may
        # open it), so the app that started this trainer can use the database again.
        close_all()
        return rows
    return loader


def run(args: argparse.Namespace, settings: Settings) -> int:
    from engine.train import data_identity
    from engine.train.control import CommandWatcher, EventWriter
    from engine.train.session import TrainingSession

    settings = _effective_settings(args, settings)
    channel: list[EventWriter] = []  # filled once the run folder exists
    if args.rows_file:
        source = {"rows": _rows_file(args.rows_file)}
        data = data_identity.of_rows_file(args.rows_file, source["rows"].array)
    else:
        notify = lambda e: [f(e) for f in channel]  # noqa: E731
        data = data_identity.current(settings)
        source = {"rows_loader": _loader(lambda: session.settings, notify)}
    printer = _Printer()
    session = TrainingSession(settings, on_event=lambda e: [f(e) for f in (printer, *channel)],
                              run_dir=Path(args.run_dir) if args.run_dir else None,
                              resume=Path(args.resume) if args.resume else None,
                              data_source=data.source, data=data, force=args.force, **source)
    source.clear()  # the session alone holds the rows now: it frees them once they are prepared
    # The run's control channel (engine/train/control.py): viewers follow events.jsonl,
    # `ionis-tui runs pause|resume|stop|checkpoint` and the app drop commands in control/.
    writer = EventWriter(session.run_dir)
    channel.append(writer)
    # Each command is acknowledged at once (the trainer acts on it at its next step boundary).
    watcher = CommandWatcher(session.run_dir, session,
                             on_command=lambda c: writer(ev.Notice("info", f"command received: {c}")),
                             on_expired=lambda c: writer(ev.Notice("warning", f"command {c} ignored: it "
                                                                  "expired before the trainer could take it"))
                             ).start()
    try:
        return _drive(session, printer)
    finally:
        watcher.close()
        writer.close()


def _drive(session, printer: _Printer) -> int:
    def on_sigint(signum, frame):
        # First Ctrl-C: stop at the next step boundary (last.pt is saved). A second one
        # falls through to the default handler and aborts at once.
        print("\nstopping: saving last.pt (Ctrl-C again to abort without saving)", file=sys.stderr, flush=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        session.stop()

    in_main = threading.current_thread() is threading.main_thread()
    restore_sigint = on_first_ctrl_c(on_sigint)
    ended_by, restore = _stop_on_termination(session) if in_main else ({}, lambda: None)
    try:
        end = session.run()
    finally:
        restore_sigint()
        restore()
    if end.state == ev.FINISHED:
        print(end.message, flush=True)
        return 0
    if end.state == ev.STOPPED:
        print(end.message, file=sys.stderr)
        if (session.run_dir / "last.pt").is_file():
            print(f"resume with: ionis-tui train --resume {session.run_dir}", file=sys.stderr)
        return 128 + ended_by["signal"] if ended_by else EXIT_STOPPED
    print(f"error: {end.message}", file=sys.stderr)
    return EXIT_FAILED if printer.started else EXIT_INPUT
