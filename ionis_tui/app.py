"""IonisApp: wiring only. It owns the settings, the dashboard state, the training controller
and the database check; screens (ionis_tui/screens) hold layout and keys, widgets
(ionis_tui/widgets) draw, and all the work happens in engine/ inside worker threads."""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
from collections.abc import Callable
from datetime import datetime

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from engine.data.rows import SignatureRows
from engine.errors import IonisError
from engine.model import pick_device
from engine.settings import Settings
from engine.train import events as ev
from ionis_tui import datasource
from ionis_tui.dashboard_state import DashboardState, DataSource
from ionis_tui.messages import DataChecked, RunHistory, SeedProgress, TrainEvent
from ionis_tui.runner import WORKER_NAME, RunController
from ionis_tui.screens.confirm import ConfirmScreen
from ionis_tui.screens.dashboard import DashboardScreen
from ionis_tui.screens.help import HelpScreen, key_rows
from ionis_tui.terminal import detach_terminal, exit_later

STOP_TIMEOUT_S = 120.0  # longest we wait for the trainer to checkpoint and stop on quit
EXIT_GRACE_S = 15.0     # after a hangup, time allowed for a normal exit before a hard one
# State changes (a handful per run) are drawn at once, so keys feel immediate; everything
# else (progress, epochs, checkpoints, notices) waits for the next 4 Hz frame.
URGENT = (ev.StateChanged, ev.RunStarted, ev.RunEnded)
HELP_TITLES = {"DashboardScreen": "dashboard keys", "RunsScreen": "runs list keys",
               "RunDetailScreen": "run keys", "VerifyScreen": "verify keys", "MatrixScreen": "matrix keys"}


class IonisApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "ionis-tui"
    ENABLE_COMMAND_PALETTE = False  # its footer entry would crowd out our keys at 80 columns
    # Toasts answer a key and go: short-lived, narrow (app.tcss), at the bottom over the event
    # log, which repeats what they say; the plots at the top stay clear.
    NOTIFICATION_TIMEOUT = 4
    BINDINGS = [Binding("question_mark", "help", "help", id="help")]

    def __init__(self, settings: Settings, *, rows: SignatureRows | None = None,
                 clock: Callable[[], datetime] | None = None, check_db: bool = True) -> None:
        """rows: train on these instead of reading the database (benchmarks); clock: the
        event log's time source (tests pin it); check_db=False skips the start-up check."""
        super().__init__()
        self.settings = settings
        # [keys]: binding id -> keys (validated in engine.settings: known actions, no key twice).
        self.set_keymap(settings.keys.model_dump())
        self.state = DashboardState(device=pick_device(settings.train.device).type,
                                    clock=clock or datetime.now)
        self.runner = RunController(self, settings, rows=rows, data_source=self._source_label)
        self._check_db = check_db and rows is None
        if rows is not None:
            self.state.set_data(DataSource(status="ok", mode="in-memory", table="rows",
                                           rows=len(rows)))
        self._quitting = False
        self._sighup = False
        self._keys_for: tuple = ()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._old_sighup: object = signal.SIG_DFL
        self._cancel_seed = threading.Event()  # set on exit: seeding is atomic, so cancel is safe

    def get_default_screen(self) -> DashboardScreen:
        return DashboardScreen(id="dashboard")

    # ------------------------------------------------------------------ lifecycle
    def on_mount(self) -> None:
        # torch, Textual and the screen make a large, long-lived heap; a full garbage
        # collection walking it stalls the loop for ~100 ms. Freezing what exists after
        # start-up keeps later collections small (keys stay responsive).
        self.call_after_refresh(self._freeze_heap)
        if self._check_db:
            self.check_data()
        # Dropped SSH: stop with a checkpoint, then leave (main thread, Unix only). A plain
        # handler, not loop.add_signal_handler: it must run before the SIGCONT the kernel
        # sends right after SIGHUP (Python runs pending handlers in signal-number order).
        self._loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGHUP"):
            self._old_sighup = signal.signal(signal.SIGHUP, self._on_sighup)
            self._sighup = True

    @staticmethod
    def _freeze_heap() -> None:
        gc.collect()  # what is garbage now must not be frozen for the life of the process
        gc.freeze()

    def on_unmount(self) -> None:
        gc.unfreeze()
        if self._sighup:
            signal.signal(signal.SIGHUP, self._old_sighup)
            self._sighup = False
        # Never leave a training thread running behind a closed app: the process would wait
        # for it at exit. stop() only sets a flag; the thread saves a checkpoint and ends.
        self.runner.stop()
        self._cancel_seed.set()

    def _source_label(self) -> str:
        if self.state.data.provenance:  # from the start-up check: says "demo data" when it is
            return self.state.data.provenance
        db = self.settings.database
        where = f" {db.host}:{db.port}" if db.mode == "server" else ""
        return f"{db.mode}{where} {db.database}.{db.table}"

    def redraw(self) -> None:
        """Draw state changes now rather than at the next frame."""
        stack = self.screen_stack
        if not stack:  # shutting down: nothing left to draw
            return
        if isinstance(stack[0], DashboardScreen) and stack[0].is_mounted:
            stack[0].draw()
        self.update_keys()

    def update_keys(self) -> None:
        """Re-check which keys apply, only when that can have changed: a footer rebuild is
        costly, and progress events would otherwise trigger one several times a second."""
        key = (self.runner.running, self.runner.active, self.state.state, self.state.data.status)
        if key != self._keys_for and self.screen_stack:
            self._keys_for = key
            self.refresh_bindings()

    # ------------------------------------------------------------------ database
    def check_data(self) -> None:
        if self.state.data.status == "seeding":
            return
        self.state.set_data(datasource.describe(self.settings.database))
        self.redraw()
        db = self.settings.database
        self.run_worker(lambda: self.post_message(DataChecked(datasource.check(db))),
                        name="data-check", group="data", thread=True, exclusive=True,
                        exit_on_error=False)

    def on_data_checked(self, msg: DataChecked) -> None:
        d = msg.data
        self.state.set_data(d)
        if d.status == "ok":
            self.state.note(f"data: {d.mode} {d.table}, {d.rows:,} usable rows")
        elif d.status == "empty":
            self.state.note(f"data: {d.message} Press d to seed {self.settings.demo.rows:,} demo rows.",
                            "warning")
        elif d.status == "error":
            self.state.note(f"data: {d.message}" + (f" [setting: {d.setting}]" if d.setting else ""),
                            "error")
        self.redraw()

    def seed_demo(self) -> None:
        d = self.state.data
        if d.status != "empty":
            self.notify("demo data is offered only when the embedded database is empty", severity="warning")
            return
        db, demo = self.settings.database, self.settings.demo
        self.state.set_data(DataSource(status="seeding", mode=d.mode, where=d.where, table=d.table,
                                       rows=None, seed_total=2 * demo.rows))
        self.state.note(f"seeding {demo.rows:,} demo rows into {d.table}…")
        self.redraw()

        def work() -> None:
            progress = lambda done, total: self.post_message(SeedProgress(done, total))  # noqa: E731
            self.post_message(DataChecked(datasource.seed(db, demo.rows, demo.seed, progress=progress,
                                                          cancel=self._cancel_seed.is_set)))

        self.run_worker(work, name="seed", group="data", thread=True, exit_on_error=False)

    def on_seed_progress(self, msg: SeedProgress) -> None:
        d = self.state.data
        if d.status == "seeding":
            d.seed_done, d.seed_total = msg.done, msg.total
            self.state.set_data(d)

    # ------------------------------------------------------------------ training
    def start_run(self, resume: str | None = None) -> bool:
        if self.runner.running:
            self.notify("a run is already active: p pauses it, x stops it", severity="warning")
            return False
        d = self.state.data
        if d.status != "ok":
            why = {"checking": "the database check is still running",
                   "empty": "the database is empty: press d to seed demo data",
                   "seeding": "demo data is still being written",
                   "error": f"the database is not usable: fix {d.setting or 'the settings'} (see the panel)"}
            self.notify(f"cannot start: {why.get(d.status, d.status)}", severity="error")
            return False
        self.state.reset_run()
        self.state.note(f"resuming run {resume}…" if resume else "starting a new run…")
        try:
            self.runner.start(resume=resume)
        except IonisError as exc:
            self.state.fail(str(exc))
            self.notify(str(exc), severity="error")
            self.redraw()
            return False
        self.redraw()
        return True

    def on_train_event(self, msg: TrainEvent) -> None:
        self.state.apply(msg.event)
        if isinstance(msg.event, URGENT):
            self.redraw()

    def on_run_history(self, msg: RunHistory) -> None:
        self.state.load_history(msg.rows)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        w = event.worker
        if w.name == WORKER_NAME and event.state == WorkerState.ERROR:
            # The session reports its own failures as RunEnded; this catches the rest.
            err = w.error
            self.state.fail(f"{type(err).__name__}: {err}" if err else "the training thread died")
            self.redraw()
        elif w.name in ("data-check", "seed") and event.state == WorkerState.ERROR:
            d = datasource.describe(self.settings.database)
            d.status, d.message = "error", f"database check failed: {w.error}"
            self.state.set_data(d)
            self.redraw()
        elif w.name == WORKER_NAME:
            self.update_keys()

    def toggle_pause(self) -> None:
        what = self.runner.toggle_pause()
        if what:
            self.state.note(f"{what} requested")
            self.redraw()

    def confirm_stop(self) -> None:
        if not self.runner.active:
            self.notify("no run is active")
            return

        def answer(yes: bool | None) -> None:
            if yes and self.runner.stop():
                self.state.note("stop requested: saving a checkpoint…")
                self.redraw()

        self.push_screen(ConfirmScreen("Stop the run? A checkpoint is saved first, so r can resume it later.",
                                       yes="Stop"), answer)

    def checkpoint_now(self) -> None:
        if self.runner.checkpoint():
            self.state.note("checkpoint requested")
            self.redraw()
        else:
            self.notify("no run is active")

    # ------------------------------------------------------------------ other screens
    def show_runs(self) -> None:
        from ionis_tui.screens.runs import RunsScreen

        self.push_screen(RunsScreen(self.settings.runs.dir))

    def show_tool(self, which: str) -> None:
        """v / m: the verify and matrix screens, fed with the live model when training."""
        from ionis_tui.screens.placeholder import PlaceholderScreen

        try:
            if which == "verify":
                from ionis_tui.screens.verify import VerifyScreen as Tool
            else:
                from ionis_tui.screens.matrix import MatrixScreen as Tool
        except ImportError as exc:  # the screen's module has not landed in this install
            self.push_screen(PlaceholderScreen(which, f"({exc})"))
            return
        self.push_screen(Tool(self.settings, live_model=self.runner.live_model))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        screen = self.screen
        keys = key_rows(self, screen)
        # Kept per screen and key set: showing it again costs a render, not a compose.
        name = f"help-{type(screen).__name__}-{hash(keys) & 0xFFFFFFFF:x}"
        if not self.is_screen_installed(name):
            title = HELP_TITLES.get(type(screen).__name__, type(screen).__name__)
            self.install_screen(HelpScreen(keys, title, self.settings.runs.dir), name)
        self.push_screen(name)

    # ------------------------------------------------------------------ leaving
    async def action_quit(self) -> None:  # ctrl+q too
        self.request_quit()

    def request_quit(self) -> None:
        if self._quitting:
            return
        if not self.runner.active:
            self.exit(0)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._stop_then_exit("quit")

        self.push_screen(ConfirmScreen("A run is active. Save a checkpoint, stop it and quit?",
                                       yes="Stop and quit"), answer)

    def _on_sighup(self, signum: int, frame: object) -> None:
        # Runs in the main thread between two bytecodes: only the urgent part happens here.
        if not self.is_headless:
            # Textual's SIGCONT handler would restart terminal output on the dead terminal
            # (a new writer thread that dies on EIO, so the exit then blocks forever).
            signal.signal(signal.SIGCONT, signal.SIG_DFL)
            detach_terminal()
        self._loop.call_soon_threadsafe(self.hangup)

    def hangup(self) -> None:
        """SIGHUP: the terminal is gone; stop cleanly with a checkpoint, then exit."""
        self._stop_then_exit("hangup (SIGHUP)", hung_up=True)

    def _stop_then_exit(self, why: str, hung_up: bool = False) -> None:
        if self._quitting:
            return
        self._quitting = True

        async def work() -> None:
            if self.runner.running:
                self.state.note(f"{why}: stopping the run with a checkpoint…")
                self.redraw()
                self.runner.stop()
                if not await self.runner.wait(STOP_TIMEOUT_S):
                    self.state.note("the run did not stop in time", "error")
            if hung_up and not self.is_headless:
                # Last resort: the checkpoint is on disk; if tearing down the dead terminal
                # still hangs, leave anyway rather than linger as an orphan.
                threading.Thread(target=exit_later, args=(EXIT_GRACE_S,), daemon=True).start()
            self.exit(0)

        self.run_worker(work(), name="quit", group="quit", exit_on_error=False)

