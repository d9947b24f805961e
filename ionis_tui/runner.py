"""Owns the one training session of the app and the thread worker it runs in.

The session's blocking run() goes into a Textual thread worker; its events come back as
TrainEvent messages (post_message is thread-safe and never blocks the training thread).
Control calls (pause, stop, checkpoint) are the session's own thread-safe methods."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.worker import Worker, WorkerState

from engine.data.rows import SignatureRows
from engine.settings import Settings
from engine.train import events as ev
from ionis_tui.messages import RunHistory, TrainEvent

if TYPE_CHECKING:
    from textual.app import App

    from engine.checkpoint import LoadedModel  # torch: loaded when a run starts, not at start-up

WORKER_NAME = "training"


class RunController:
    def __init__(self, app: App, settings: Settings, rows: SignatureRows | None = None,
                 data_source: Callable[[], str] = lambda: "") -> None:
        self.app = app
        self.settings = settings
        self.rows = rows              # given rows skip the database (benchmarks, tests)
        self.data_source = data_source
        self.session: Any = None      # engine.train.session.TrainingSession
        self.worker: Worker | None = None

    # ------------------------------------------------------------------ queries
    @property
    def running(self) -> bool:
        """The worker thread is alive (the session may still be writing its last checkpoint)."""
        return self.worker is not None and self.worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    @property
    def active(self) -> bool:
        """A run that quitting would interrupt."""
        return self.running and self.session is not None and self.session.state in (
            ev.IDLE, ev.LOADING, ev.TRAINING, ev.PAUSED)

    @property
    def paused(self) -> bool:
        return self.session is not None and self.session.state == ev.PAUSED

    def live_model(self) -> LoadedModel | None:
        """A CPU copy of the model being trained, for the verify and matrix screens."""
        # After the run has ended the weights in memory are no longer "live": the screens say so
        # and offer the run's checkpoints instead.
        return self.session.snapshot_model() if self.active else None

    # ------------------------------------------------------------------ control
    def start(self, resume: str | None = None) -> None:
        """Create a session (new run, or `resume` = a run folder) and run it in a thread."""
        from engine.train.session import TrainingSession  # torch-heavy; imported on first use

        if self.running:
            raise RuntimeError("a run is already active")
        kwargs: dict[str, Any] = {"on_event": self._emit, "data_source": self.data_source()}
        if self.rows is not None:
            kwargs["rows"] = self.rows
        else:
            kwargs["rows_loader"] = self._load_rows
        settings = self.settings
        if resume:
            from engine.train.rundir import load_run_settings

            # The run's own epoch total; the session keeps the run's recipe and data sample.
            epochs = load_run_settings(resume).train.epochs
            settings = settings.model_copy(update={"train": settings.train.model_copy(update={"epochs": epochs})})
            kwargs["resume"] = Path(resume)
        self.session = TrainingSession(settings, **kwargs)
        self.worker = self.app.run_worker(self.session.run, name=WORKER_NAME, group=WORKER_NAME,
                                          thread=True, exit_on_error=False)

    def _load_rows(self, progress: Callable[[int, int], None], cancel: Callable[[], bool]) -> SignatureRows:
        """The session's rows loader (runs in the training thread): the configured table,
        sampled and split as the settings say."""
        from engine.data.client import connect
        from engine.data.loader import load_rows
        from engine.train.memory import ensure_fits

        db, tr = self.session.settings.database, self.session.settings.train
        rows = load_rows(connect(db), db, limit_rows=tr.limit_rows, seed=tr.seed,
                         val_fraction=tr.val_fraction, progress=progress, cancel=cancel,
                         before_read=lambda n: ensure_fits(n, tr.feature_set))
        report = getattr(rows, "report", None)
        if report is not None:
            self._emit(ev.Notice("info", f"data: {report.summary()}"))
        return rows

    def _emit(self, event: ev.Event) -> None:
        # Runs in the training thread: hand over and return at once.
        if isinstance(event, ev.RunStarted) and event.start_epoch > 1:
            # A resumed run: its earlier epochs (the session has just cut metrics.jsonl back to
            # the checkpoint), so the curves and the best epoch include them. Read here, not
            # on the UI thread.
            from engine.train.runs import read_metrics

            self.app.post_message(RunHistory(read_metrics(event.run_dir)))
        self.app.post_message(TrainEvent(event))

    def toggle_pause(self) -> str:
        if self.session is None or not self.running:
            return ""
        if self.session.state == ev.PAUSED:
            self.session.resume()
            return "resume"
        self.session.pause()
        return "pause"

    def stop(self) -> bool:
        if self.session is None or not self.running:
            return False
        self.session.stop()
        return True

    def close(self) -> None:
        """The app is closing: a thread cannot outlive it, so the run stops (with a checkpoint)."""
        self.stop()

    def checkpoint(self) -> bool:
        if self.session is None or not self.running:
            return False
        self.session.request_checkpoint()
        return True

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait (without blocking the loop) for the worker thread to end; False on timeout."""
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
