"""`ionis-tui runs`: list runs (live ones with their trainer's pid), open the app on one,
or send pause/resume/stop/checkpoint to its trainer and wait for the trainer to answer."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import InputError
from engine.train import events as ev

if TYPE_CHECKING:
    from engine.settings import Settings

CONTROL_ACTIONS = ("pause", "resume", "stop", "checkpoint")


def add_parser(sub) -> None:
    p = sub.add_parser("runs", help="list runs; attach to, pause, resume, stop or checkpoint a live run",
                       description="Without an action: list the runs under runs.dir, newest first, with "
                                   "state, trainer pid, epochs, best metrics and data (provenance kind and "
                                   "table; the phase after a resume --force on changed data). A run whose "
                                   "trainer died shows as interrupted, one whose trainer makes no progress "
                                   "for runs.stall_after_s as stalled, one that hit a fault (a full disk) "
                                   "as failed. ID is a run id, a unique prefix of one, or a run folder.")
    p.add_argument("action", nargs="?", choices=("list", "attach", *CONTROL_ACTIONS), default="list")
    p.add_argument("run_id", nargs="?", metavar="ID", help="the run (attach and the controls)")
    p.add_argument("--json", action="store_true", help="the list as JSON")
    p.add_argument("--wait", type=float, default=30.0, metavar="S",
                   help="seconds to wait for the trainer to acknowledge a control (default 30)")
    p.set_defaults(run=run)


def find_run(runs_dir: str, ident: str | None):
    from engine.train.runs import list_runs, run_info

    if not ident:
        raise InputError("name the run: `ionis-tui runs` lists the run ids")
    as_path = Path(ident)
    for cand in (as_path, Path(runs_dir) / ident):
        if cand.is_dir() and (info := run_info(cand)) is not None:
            return info
    matches = [r for r in list_runs(runs_dir) if r.run_id.startswith(ident)]
    if len(matches) == 1:
        return matches[0]
    what = "matches several runs" if matches else "is not a run"
    raise InputError(f"{ident!r} {what} under {runs_dir}; `ionis-tui runs` lists the run ids")


def _as_dict(r) -> dict:
    return {"run_id": r.run_id, "path": str(r.path), "state": r.state, "pid": r.pid, "host": r.host,
            "created": r.created.isoformat(timespec="seconds"), "epochs_done": r.epochs_done,
            "epochs_total": r.epochs_total, "best_val_pearson": r.best_val_pearson,
            "best_val_rmse_db": r.best_val_rmse_db, "resumable": r.resumable,
            "data": {"kind": r.data_kind or None, "table": r.data_table or None, "rows": r.data_rows},
            "phase": r.phase, "phases": list(r.phases)}


def _list(settings: Settings, as_json: bool) -> int:
    from engine.train.runs import is_live, list_runs

    runs = list_runs(settings.runs.dir)
    if as_json:
        print(json.dumps([_as_dict(r) for r in runs], indent=2))
        return 0
    if not runs:
        print(f"no runs in {settings.runs.dir}")
        return 0
    print(f"{'run':<28} {'state':<12} {'pid':>8} {'epochs':>9} {'Pearson':>8} {'RMSE dB':>8}  data")
    for r in runs:
        pid = str(r.pid) if r.pid is not None and is_live(r.state) else "-"
        pear = "-" if r.best_val_pearson is None else f"{r.best_val_pearson:+.4f}"
        rmse = "-" if r.best_val_rmse_db is None else f"{r.best_val_rmse_db:.2f}"
        print(f"{r.run_id:<28} {r.state:<12} {pid:>8} {f'{r.epochs_done}/{r.epochs_total}':>9} "
              f"{pear:>8} {rmse:>8}  {r.data_label}")
    return 0


def _answered(action: str, e: ev.Event) -> bool:
    if isinstance(e, ev.RunEnded):
        return True
    if isinstance(e, ev.StateChanged):
        return (action, e.state) in (("pause", ev.PAUSED), ("resume", ev.TRAINING))
    return action == "checkpoint" and isinstance(e, ev.CheckpointSaved) and e.kind == "manual"


def control(run, action: str, wait_s: float) -> tuple[bool, str]:
    """Send `action` to the run's trainer; (acknowledged, what the trainer said)."""
    from engine.train.control import EventReader, send, withdraw

    reader = EventReader(run.path)
    reader.offset = reader.size()  # only answers to this command count
    sent = send(run.path, action, ttl_s=wait_s)
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        for e in reader.read():
            if _answered(action, e):
                if isinstance(e, ev.RunEnded):
                    return True, f"{e.state}: {e.message}"
                if isinstance(e, ev.CheckpointSaved):
                    return True, f"checkpoint saved: {e.path} (epoch {e.epoch})"
                return True, e.state + (f" ({e.reason})" if e.reason else "")
        time.sleep(0.02)
    if withdraw(sent):  # nobody waits for it any more: it must not be carried out later
        return False, (f"no answer within {wait_s:g} s: the trainer did not take the command, so it was "
                       "withdrawn (is the trainer stalled? `ionis-tui runs` shows it)")
    return False, (f"no answer within {wait_s:g} s: the trainer took the command but has not "
                   "acted on it yet")


def _control(settings: Settings, args: argparse.Namespace) -> int:
    from engine.train.runs import is_live  # a stalled trainer may wake up: it takes commands

    run = find_run(settings.runs.dir, args.run_id)
    if not is_live(run.state):
        raise InputError(f"run {run.run_id} is not running (state: {run.state}); only a live run takes "
                         f"{args.action}" + ("; resume it with `ionis-tui train --resume "
                                             f"{run.path}`" if run.resumable else ""))
    if (args.action, run.state) in (("pause", ev.PAUSED), ("resume", ev.TRAINING)):
        print(f"run {run.run_id}: already {run.state}")
        return 0
    ok, said = control(run, args.action, args.wait)
    print(f"run {run.run_id} (pid {run.pid}): {said}", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "list":
        return _list(settings, args.json)
    if args.action == "attach":
        r = find_run(settings.runs.dir, args.run_id)
        # The app lives in ionis_tui/, which the engine never imports: start it as a program.
        argv = [sys.executable, "-m", "ionis_tui", *(["--config", args.config] if args.config else []),
                "--attach", str(r.path)]
        sys.stdout.flush()
        os.execv(sys.executable, argv)
    return _control(settings, args)
