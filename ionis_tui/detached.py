"""DetachedController: the app's run trains in its own process, so it outlives the app.

start() spawns `python -m ionis_tui train --headless` in a new session (a hangup of the
terminal, closing the app or an app crash never reach it), its output going to the run's
trainer.log. A thread worker follows the run's events.jsonl (engine/train/control.py) and
posts them to the app as TrainEvent messages; pause, stop and
checkpoint are command files the trainer picks up. attach() follows a run some other
process started. Implements ionis_tui.controller.RunController, the app's only run path."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.worker import Worker, WorkerState

from engine.data.rows import SignatureRows
from engine.process import pid_alive
from engine.settings import Settings
from engine.train import events as ev
from ionis_tui.messages import RunHistory, TrainEvent

if TYPE_CHECKING:
    from textual.app import App

    from engine.checkpoint import LoadedModel  # torch: loaded when a model is asked for

WORKER_NAME = "training"
TRAINER_LOG = "trainer.log"
FOLLOW_S = 0.02     # events.jsonl poll: part of the press -> acknowledged latency
ALIVE_EVERY_S = 0.5  # how often the follower checks that the trainer process still exists
STEP_LINE = '{"type": "StepProgress"'  # how engine.train.control.encode starts such a line


@dataclass
class DetachedRun:
    """What the app knows of the run it follows (ionis_tui.controller.RunHandle)."""
    run_dir: Path
    pid: int | None
    state: str = ev.IDLE

    @property
    def run_id(self) -> str:
        return self.run_dir.name


def settings_toml(settings: Settings) -> str:
    """The app's effective settings (file, environment, defaults already merged) as a
    complete settings file for the trainer, so it runs with exactly these values whatever
    the precedence of sources. Sections hold scalars and subsections ([train.experimental]);
    a JSON string is a TOML string."""
    lines: list[str] = []
    for name in type(settings).model_fields:
        _section_toml(name, getattr(settings, name), lines)
    return "\n".join(lines) + "\n"


def _section_toml(name: str, section, lines: list[str]) -> None:
    lines.append(f"[{name}]")
    subsections = []
    for key in type(section).model_fields:
        value = getattr(section, key)
        if hasattr(type(value), "model_fields"):  # a nested section: after this one's keys
            subsections.append((f"{name}.{key}", value))
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        text = ("true" if value else "false") if isinstance(value, bool) else (
            repr(value) if isinstance(value, int | float) else json.dumps(str(value)))
        lines.append(f"{key} = {text}")
    for sub, value in subsections:
        _section_toml(sub, value, lines)


def trainer_command(settings: Settings, args: list[str],
                    folder: str | None = None) -> tuple[list[str], dict[str, str], str]:
    """argv, environment and the settings file (0600, in the temp folder; the caller deletes it
    once the trainer has read it) for `ionis-tui train --headless` with these settings."""
    fd, path = tempfile.mkstemp(prefix="ionis-settings-", suffix=".toml", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(settings_toml(settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IONIS_")}  # all in the file
    return [sys.executable, "-m", "ionis_tui", "--config", path, "train", "--headless", *args], env, path


class DetachedController:
    def __init__(self, app: App, settings: Settings, rows: SignatureRows | None = None) -> None:
        self.app = app
        self.settings = settings
        self.rows = rows              # saved to a .npy file for the trainer (benchmarks, tests)
        self.session: DetachedRun | None = None
        self.worker: Worker | None = None
        self.proc: subprocess.Popen | None = None
        self._detach = threading.Event()
        self._history_epoch = 0       # epochs already shown from metrics.jsonl
        self._rows_tmp: str | None = None
        self._settings_tmp: str | None = None

    # ------------------------------------------------------------------ queries
    @property
    def running(self) -> bool:
        """The follower is alive (the trainer may still be writing its last checkpoint)."""
        return self.worker is not None and self.worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    @property
    def active(self) -> bool:
        from engine.train.runs import is_live

        return self.running and self.session is not None and is_live(self.session.state)

    @property
    def paused(self) -> bool:
        return self.session is not None and self.session.state == ev.PAUSED

    @property
    def started_here(self) -> bool:
        return self.proc is not None

    def live_model(self) -> LoadedModel | None:
        """The run's latest last.pt (the trainer is another process: its weights in memory
        are out of reach); the label says so."""
        from engine.checkpoint import load_model

        if not self.active or not (self.session.run_dir / "last.pt").is_file():
            return None
        lm = load_model(self.session.run_dir / "last.pt")
        lm.path, lm.kind = Path(self.session.run_id), f"last.pt, epoch {lm.meta.get('epoch', '?')}"
        return lm

    # ------------------------------------------------------------------ start / attach
    def start(self, resume: str | None = None, force: bool = False) -> None:
        """Spawn a trainer for a new run (or `resume` = a run folder; `force`: go on although
        its data changed, as a new phase) and follow it."""
        from engine.train.control import EVENTS
        from engine.train.rundir import RunFolder

        if self.running:
            raise RuntimeError("a run is already active")
        if resume:
            run_dir = Path(resume)
            (run_dir / EVENTS).unlink(missing_ok=True)  # the old feed must not be read as new
            args = ["--resume", str(run_dir), *(["--force"] if force else [])]
        else:
            try:
                run_dir = RunFolder.create(self.settings.runs.dir, self.settings.train.feature_set).path
            except OSError as exc:  # runs.dir is a file, not writable, on a full disk...
                from engine.errors import StorageError, describe_os_error

                raise StorageError(describe_os_error(exc)) from None
            args = ["--run-dir", str(run_dir)]
        if self.rows is not None:
            self._rows_tmp = self._rows_file(run_dir)
            args += ["--rows-file", self._rows_tmp]
        elif self.settings.database.mode == "embedded":
            from engine.data.client import close_all

            close_all()  # one process at a time opens the embedded engine: the trainer's turn
        self.proc = self._spawn(run_dir, args)
        self._follow(DetachedRun(run_dir, self.proc.pid), replay=False)

    def _rows_file(self, run_dir: Path) -> str:
        """The given rows as the trainer's --rows-file, beside the run's folder (a dot file the
        runs list skips) under a name of the run's own: a resume of the run hands the same
        file again, so the trainer's data check sees the same source (and the session's
        checksum any change of content). Removed once the trainer has read it."""
        import numpy as np

        path = run_dir.parent / f".{run_dir.name}.rows.npy"
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, self.rows.array)
        os.replace(tmp, path)
        return str(path)

    def _spawn(self, run_dir: Path, args: list[str]) -> subprocess.Popen:
        argv, env, self._settings_tmp = trainer_command(self.settings, args)
        with open(run_dir / TRAINER_LOG, "ab") as log:
            return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)

    def attach(self, run_dir: str | os.PathLike, pid: int | None, state: str = ev.TRAINING) -> None:
        """Follow a run another process trains (in `state` now, per its state.json): its
        history, then its live events."""
        if self.running:
            raise RuntimeError("already following a run")
        self.proc = None
        self._follow(DetachedRun(Path(run_dir), pid, state), replay=True)

    def _follow(self, run: DetachedRun, replay: bool) -> None:
        self.session, self._history_epoch = run, 0
        detach = self._detach = threading.Event()
        self.worker = self.app.run_worker(lambda: self._follow_loop(run, replay, detach),
                                          name=WORKER_NAME, group=WORKER_NAME, thread=True,
                                          exit_on_error=False)

    # ------------------------------------------------------------------ the follower thread
    def _follow_loop(self, run: DetachedRun, replay: bool, detach: threading.Event) -> None:
        from engine.train.control import EventReader

        reader = EventReader(run.run_dir)
        if replay:
            self._replay(reader)
        checked = time.monotonic()
        while not detach.is_set():
            for e in reader.read():
                if self._deliver(e):
                    return
            if time.monotonic() - checked >= ALIVE_EVERY_S:
                checked = time.monotonic()
                if not self._trainer_alive(run):
                    for e in reader.read():  # what it wrote before it went
                        if self._deliver(e):
                            return
                    self._deliver(ev.RunEnded(self._dead_state(run), self._dead_message(run)))
                    return
                self._check_stall(run)
            time.sleep(FOLLOW_S)

    def _check_stall(self, run: DetachedRun) -> None:
        """A live trainer that stopped moving (SIGSTOP, a hung device) shows as stalled, by the
        one run-state rule (engine.train.runs.run_state), and as itself again once it moves."""
        from engine.train.rundir import STATE, read_json
        from engine.train.runs import STALLED, run_state

        st = read_json(run.run_dir / STATE)
        now = run_state(run.run_dir, st)
        if now == STALLED and run.state != STALLED:
            limit = (st or {}).get("stall_after_s", "?")
            self._deliver(ev.StateChanged(STALLED, f"no progress for over {limit} s; trainer pid {run.pid} "
                                                   "is alive but not moving (stopped? a hung device?)"))
        elif run.state == STALLED and now != STALLED and now in (ev.LOADING, ev.TRAINING, ev.PAUSED):
            self._deliver(ev.StateChanged(now, "moving again"))

    def _replay(self, reader: Any) -> None:
        """Catch up with a running trainer: its start, the epochs from metrics.jsonl, its
        notices and checkpoints, and only the newest progress point. Each keeps the time it
        happened (its log line says when, not when this app attached)."""
        from engine.train.control import decode_timed
        from engine.train.runs import read_metrics

        lines = reader.read_lines()
        # Progress points are most of a long run's feed: only the newest one is decoded.
        steps = [ln for ln in lines if ln.startswith(STEP_LINE)][-1:]
        events = [x for x in map(decode_timed, (ln for ln in lines if not ln.startswith(STEP_LINE))) if x]
        started = [x for x in events if isinstance(x[0], ev.RunStarted)]
        for e, t in started[-1:]:
            self._deliver(e, t)
        history = read_metrics(self.session.run_dir)
        self._history_epoch = max((int(m.get("epoch", 0)) for m in history), default=0)
        self.app.post_message(RunHistory(history))
        for e, t in events:
            if not isinstance(e, ev.RunStarted | ev.EpochEnd | ev.LoadProgress):
                self._deliver(e, t)
        for e, t in filter(None, map(decode_timed, steps)):
            self._deliver(e, t)

    def _deliver(self, e: ev.Event, t: float | None = None) -> bool:
        """Post one event to the app (t: when it happened, for a replayed one); True when
        it ends the run."""
        run = self.session
        if isinstance(e, ev.StateChanged | ev.RunEnded):
            run.state = e.state
        if isinstance(e, ev.EpochEnd) and int(e.metrics.get("epoch", 0)) <= self._history_epoch:
            return False  # already in the history read on attach
        self._forget_files(rows=isinstance(e, ev.RunStarted | ev.RunEnded))
        if isinstance(e, ev.RunStarted) and e.start_epoch > 1 and self.proc is not None:
            from engine.train.runs import read_metrics

            self.app.post_message(RunHistory(read_metrics(e.run_dir)))  # a resumed run's past
        self.app.post_message(TrainEvent(e, None if t is None else datetime.fromtimestamp(t)))
        return isinstance(e, ev.RunEnded)

    def _forget_files(self, rows: bool) -> None:
        """Any event means the trainer has read its settings file; RunStarted, its rows."""
        if self._settings_tmp:
            Path(self._settings_tmp).unlink(missing_ok=True)
            self._settings_tmp = None
        if rows and self._rows_tmp:
            Path(self._rows_tmp).unlink(missing_ok=True)
            self._rows_tmp = None

    def _trainer_alive(self, run: DetachedRun) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        from engine.train.lock import is_held

        # The lock, when there is one, is immune to pid reuse; it is taken right at start.
        held = is_held(run.run_dir)
        return held if held is not None else pid_alive(run.pid)

    def _dead_state(self, run: DetachedRun) -> str:
        from engine.train.runs import INTERRUPTED

        # A trainer that never started (bad settings, a lock held elsewhere) failed; one that
        # trained and vanished without a word was interrupted (kill -9, out of memory).
        return INTERRUPTED if run.state in (ev.TRAINING, ev.PAUSED) else ev.FAILED

    def _dead_message(self, run: DetachedRun) -> str:
        code = self.proc.returncode if self.proc is not None else None
        if code is None:  # not our child: how it ended is unknown
            how = "is gone (killed, crashed or out of memory)"
        else:
            how = f"exited with status {code}" if code >= 0 else f"was killed by signal {-code}"
        last = run.run_dir / "last.pt"
        kept = f"{last} kept (resume it from the runs screen)" if last.is_file() else "no checkpoint was written"
        return f"the trainer (pid {run.pid}) {how} without finishing; {kept}{self._log_tail(run)}"

    @staticmethod
    def _log_tail(run: DetachedRun) -> str:
        try:
            lines = (run.run_dir / TRAINER_LOG).read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        errors = [ln for ln in lines if ln.startswith("error:")]
        return f"; {errors[-1]}" if errors else ""

    # ------------------------------------------------------------------ control
    def _send(self, command: str) -> bool:
        from engine.train.control import send

        if self.session is None or not self.active:
            return False
        send(self.session.run_dir, command)
        return True

    def toggle_pause(self) -> str:
        what = "resume" if self.paused else "pause"
        return what if self._send(what) else ""

    def stop(self) -> bool:
        return self._send("stop")

    def checkpoint(self) -> bool:
        return self._send("checkpoint")

    def detach(self) -> None:
        """Stop following; the trainer goes on."""
        self._detach.set()

    def close(self) -> None:
        """The app is closing: the run keeps training on its own."""
        self.detach()

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait (without blocking the loop) for the follower to end; False on timeout."""
        return await wait_for_worker(self.worker, timeout)


async def wait_for_worker(worker: Worker | None, timeout: float | None = None) -> bool:
    """Wait (without blocking the loop) for a worker to end; False on timeout. Polling keeps
    this immune to how the worker ends (success, error, cancel)."""
    if worker is None:
        return True
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while worker.state in (WorkerState.PENDING, WorkerState.RUNNING):
        if deadline is not None and loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
