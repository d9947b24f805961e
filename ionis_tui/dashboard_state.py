"""What the dashboard shows, as plain data: training events are folded in here as they arrive,
and the widgets read it on a timer. Keeping it free of Textual makes the folding testable and
lets many events (several StepProgress between two frames) cost one redraw."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from engine.train import events as ev

# Parts of the screen; apply() reports which ones an event touched.
HEADER, PLOTS, SIDECAR, INFO, LOG, DATA = "header", "plots", "sidecar", "info", "log", "data"


class DataStatus(StrEnum):
    """What the data panel shows: the database check's outcome or the data job running."""

    CHECKING = "checking"
    OK = "ok"
    EMPTY = "empty"
    ERROR = "error"
    SEEDING = "seeding"
    BUILDING = "building"
    IMPORTING = "importing"


@dataclass
class DataSource:
    """Outcome of the start-up database check (see ionis_tui.datasource)."""

    status: DataStatus = DataStatus.CHECKING
    mode: str = ""                 # embedded | server
    where: str = ""                # folder (embedded) or host:port (server)
    table: str = ""                # database.table
    rows: int | None = None
    message: str = ""              # error text or what is going on
    setting: str = ""              # settings key to fix, from DataError.setting
    seed_done: int = 0
    seed_total: int = 0
    provenance: str = ""           # engine.data.status.source_label: display only
    # engine.data.status.data_origin: data_source, data_table, data_provenance (for runs)
    origin: dict = field(default_factory=dict)
    spots: int = 0                 # rows in the raw spots table (`data ingest`); 0 if none

    @property
    def kind(self) -> str | None:
        """The table's provenance kind (demo, spots, bundle), None when unknown."""
        return (self.origin.get("data_provenance") or {}).get("kind")

    @property
    def label(self) -> str:
        """One-line description for the header: the server's address in server mode; no
        embedded folder path, so it stays short (the data panel names it when it matters)."""
        if not self.mode:
            return "database: checking…"
        rows = f" · {self.rows:,} rows" if self.rows is not None else ""
        server = f" {self.where}" if self.mode == "server" else ""  # which server we read
        return f"{self.mode}{server} {self.table}{rows}"


@dataclass
class LogLine:
    level: str   # info | warning | error
    text: str
    stamp: str


@dataclass
class DashboardState:
    device: str = "cpu"
    clock: Callable[[], datetime] = datetime.now
    monotonic: Callable[[], float] = time.monotonic
    data: DataSource = field(default_factory=DataSource)
    state: str = ev.IDLE
    reason: str = ""
    run_id: str = ""
    run_dir: str = ""
    epochs: int = 0
    epoch: int = 0                 # epoch in progress (1-based), 0 before the first step
    start_epoch: int = 1
    step: int = 0
    steps: int = 0
    running_loss: float | None = None
    samples_per_s: float | None = None
    elapsed_s: float | None = None
    rows_train: int = 0
    rows_val: int = 0
    params: int = 0
    load_done: int = 0
    load_total: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: dict[str, tuple[str, int]] = field(default_factory=dict)  # kind -> (path, epoch)
    # file -> (kind, "after epoch 6" | "in epoch 3" | "epoch 5"): last.pt is written by routine,
    # manual and stop saves alike, so the panel shows each file once, as its latest save left it.
    checkpoint_files: dict[str, tuple[str, str]] = field(default_factory=dict)
    best: dict[str, Any] = field(default_factory=dict)
    final_message: str = ""
    log: deque[LogLine] = field(default_factory=lambda: deque(maxlen=2000))
    log_seq: int = 0               # total lines ever logged; widgets remember how far they got
    dirty: set[str] = field(default_factory=set)
    _epoch_t0: float | None = None
    _event_time: datetime | None = None

    # ----------------------------------------------------------------- derived values
    @property
    def active(self) -> bool:
        """A run is shown and its trainer is at work (IDLE here, with no run id, is "no run")."""
        from engine.train.runs import is_live

        return bool(self.run_id) and is_live(self.state)

    @property
    def last(self) -> dict[str, Any]:
        return self.history[-1] if self.history else {}

    @property
    def epochs_done(self) -> int:
        return int(self.last.get("epoch", self.start_epoch - 1 if self.run_id else 0))

    @property
    def epoch_fraction(self) -> float:
        """Share of the current epoch done, from the latest step report."""
        return self.step / self.steps if self.steps else 0.0

    @property
    def run_fraction(self) -> float:
        if not self.epochs:
            return 0.0
        if self.state == ev.FINISHED:
            return 1.0
        in_epoch = self.epoch_fraction if self.epoch > self.epochs_done else 0.0
        return min(1.0, (self.epochs_done + in_epoch) / self.epochs)

    @property
    def eta_s(self) -> float | None:
        """Time left: the trainer's figure at an epoch end, refined inside the epoch from the
        last epoch's duration (or, during the first epoch, from the pace so far)."""
        if self.state not in (ev.TRAINING, ev.PAUSED) or not self.epochs:
            return None
        per_epoch = self.last.get("epoch_s")
        if per_epoch is None and self._epoch_t0 is not None and self.epoch_fraction > 0.02:
            per_epoch = (self.monotonic() - self._epoch_t0) / self.epoch_fraction
        if per_epoch is None:
            return self.last.get("eta_s")
        in_epoch = self.epoch_fraction if self.epoch > self.epochs_done else 0.0
        left = (self.epochs - self.epochs_done - in_epoch) * float(per_epoch)
        return max(0.0, left)

    @property
    def best_row(self) -> dict[str, Any]:
        """The metrics line of the best epoch so far (lowest validation loss)."""
        be = self.last.get("best_epoch", self.best.get("best_epoch"))
        for row in reversed(self.history):
            if row.get("epoch") == be:
                return row
        return dict(self.best)

    # ----------------------------------------------------------------- updates
    def note(self, text: str, level: str = "info") -> None:
        when = self._event_time or self.clock()
        self.log.append(LogLine(level, text, when.strftime("%H:%M:%S")))
        self.log_seq += 1
        self.dirty.add(LOG)

    def set_device(self, device: str) -> None:
        """The device the trainer would use, known once torch has loaded (idle header)."""
        self.device = device
        self.dirty.add(HEADER)

    def set_data(self, data: DataSource) -> None:
        self.data = data
        self.dirty |= {DATA, HEADER}

    def reset_run(self) -> None:
        """Forget the previous run's figures before a new one starts."""
        keep = {"device", "clock", "monotonic", "data", "log", "log_seq", "dirty"}
        fresh = DashboardState()
        for name in self.__dataclass_fields__:
            if name not in keep:
                setattr(self, name, getattr(fresh, name))
        self.dirty |= {HEADER, PLOTS, SIDECAR, INFO}

    def load_history(self, rows: list[dict[str, Any]]) -> None:
        self.history = list(rows)
        self.dirty |= {PLOTS, SIDECAR, INFO, HEADER}

    def fail(self, message: str) -> None:
        """The run's thread died with an exception the session did not report itself."""
        if self.state != ev.FAILED:
            self.state = ev.FAILED
            self.final_message = message
            self.note(f"run failed: {message}", "error")
            self.dirty |= {HEADER, INFO}

    def apply(self, e: ev.Event, at: datetime | None = None) -> None:
        """Fold one training event in; marks which parts of the screen need redrawing. `at`:
        when it happened (a replayed event), for its log line; else the clock's now."""
        self._event_time = at
        try:
            self._apply(e)
        finally:
            self._event_time = None

    def _apply(self, e: ev.Event) -> None:
        if isinstance(e, ev.StepProgress):
            if e.epoch != self.epoch:
                self._epoch_t0 = self.monotonic()
            self.epoch, self.step, self.steps = e.epoch, e.step, e.steps
            self.running_loss = e.running_loss
            self.samples_per_s = e.samples_per_s
            self.elapsed_s = e.elapsed_s
            self.dirty.add(HEADER)
        elif isinstance(e, ev.EpochEnd):
            self._epoch_end(e)
        elif isinstance(e, ev.StateChanged):
            self.state = e.state
            self.reason = e.reason
            self.dirty |= {HEADER, INFO}
            if e.state not in (ev.STOPPED, ev.FINISHED, ev.FAILED):  # RunEnded logs those
                self.note(f"state: {e.state}" + (f" ({e.reason})" if e.reason else ""))
        elif isinstance(e, ev.LoadProgress):
            self.load_done, self.load_total = e.rows_done, e.rows_total
            self.dirty.add(HEADER)
        elif isinstance(e, ev.RunStarted):
            self._run_started(e)
        elif isinstance(e, ev.CheckpointSaved):
            self.checkpoints[e.kind] = (e.path, e.epoch)
            when = self._saved_when(e)
            self.checkpoint_files[e.path] = (e.kind, when)
            self.dirty.add(INFO)
            # The routine last.pt after every epoch would double the log; the run panel
            # shows it. Best, manual and stop checkpoints are logged.
            if not (e.kind == "last" and e.epoch == self.epochs_done):
                # The folder is in the run panel; the file name says which checkpoint it is.
                name = os.path.basename(e.path) if os.path.dirname(e.path) == self.run_dir else e.path
                self.note(f"checkpoint saved: {name} ({e.kind}, {when})")
        elif isinstance(e, ev.Notice):
            self.note(e.text, e.level if e.level in ("info", "warning", "error") else "info")
        elif isinstance(e, ev.RunEnded):
            self.state = e.state
            self.best = dict(e.best or {})
            self.final_message = e.message
            self.dirty |= {HEADER, INFO}
            level = "error" if e.state == ev.FAILED else "info"
            self.note(f"run {e.state}" + (f": {e.message}" if e.message else ""), level)

    def _saved_when(self, e: ev.CheckpointSaved) -> str:
        if e.kind == "best":  # the weights of that epoch
            return f"epoch {e.epoch}"
        # A save inside an epoch names the epoch under way; at a boundary, the one just done.
        return f"in epoch {e.epoch}" if e.epoch > self.epochs_done else f"after epoch {e.epoch}"

    def _epoch_end(self, e: ev.EpochEnd) -> None:
        m = dict(e.metrics)
        self.history.append(m)
        self.epoch = int(m.get("epoch", self.epoch))
        self.epochs = int(m.get("epochs", self.epochs))
        self.step = self.steps
        self.samples_per_s = m.get("samples_per_s", self.samples_per_s)
        self.elapsed_s = m.get("elapsed_s", self.elapsed_s)
        self._epoch_t0 = self.monotonic()
        self.dirty |= {HEADER, PLOTS, SIDECAR, INFO}
        self.note(
            f"epoch {m.get('epoch')}/{m.get('epochs')}: train {_f(m.get('train_loss'))}  "
            f"val {_f(m.get('val_loss'))}  Pearson {_f(m.get('val_pearson'), '+.4f')}  "
            f"RMSE {_f(m.get('val_rmse_db'), '.2f')} dB  ({_f(m.get('epoch_s'), '.1f')} s)")
        for w in m.get("warnings") or []:
            self.note(str(w), "warning")

    def _run_started(self, e: ev.RunStarted) -> None:
        self.run_id, self.run_dir, self.device = e.run_id, e.run_dir, e.device
        self.rows_train, self.rows_val, self.params = e.rows_train, e.rows_val, e.params
        self.epochs, self.start_epoch = e.epochs, e.start_epoch
        self.epoch = e.start_epoch - 1
        self._epoch_t0 = self.monotonic()
        self.dirty |= {HEADER, INFO}
        resumed = f", resuming at epoch {e.start_epoch}" if e.start_epoch > 1 else ""
        self.note(f"run {e.run_id} on {e.device}: {e.rows_train:,} train + {e.rows_val:,} val rows, "
                  f"{e.params:,} parameters, {e.epochs} epochs{resumed}")

    def take_dirty(self) -> set[str]:
        out, self.dirty = self.dirty, set()
        return out


def _f(x: Any, spec: str = ".4f") -> str:
    try:
        return format(float(x), spec)
    except (TypeError, ValueError):
        return "—"
