"""IonisApp: wiring only. It owns the settings, the dashboard state, the run controller and
the database check; screens (ionis_tui/screens) hold layout and keys, widgets
(ionis_tui/widgets) draw, and the work happens in engine/: data jobs in worker threads, every
training run in its own trainer process (ionis_tui/detached.py), which the app follows."""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from engine.data.rows import SignatureRows
from engine.errors import IonisError, StorageError
from engine.locations import paths_in_use
from engine.settings import Settings
from engine.train import events as ev
from ionis_tui import datasource
from ionis_tui.dashboard_state import DashboardState, DataSource, DataStatus
from ionis_tui.detached import WORKER_NAME, DetachedController
from ionis_tui.messages import (
    AttachRequested,
    DataChecked,
    ResumeRequested,
    RunHistory,
    SeedProgress,
    TrainEvent,
)
from ionis_tui.screens.confirm import ConfirmScreen
from ionis_tui.screens.dashboard import DashboardScreen
from ionis_tui.screens.help import HelpScreen, help_title, key_rows
from ionis_tui.screens.quit import QuitScreen
from ionis_tui.terminal import detach_terminal, exit_later

if TYPE_CHECKING:
    from engine.train.runs import RunInfo
    from ionis_tui.controller import RunController

STOP_TIMEOUT_S = 120.0  # longest we wait for the trainer to checkpoint and stop on quit
EXIT_GRACE_S = 15.0     # after a hangup, time allowed for a normal exit before a hard one
# State changes (a handful per run) are drawn at once, so keys feel immediate; everything
# else (progress, epochs, checkpoints, notices) waits for the next 4 Hz frame.
URGENT = (ev.StateChanged, ev.RunStarted, ev.RunEnded)


class IonisApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "ionis-tui"
    ENABLE_COMMAND_PALETTE = False  # its footer entry would crowd out our keys at 80 columns
    # Toasts answer a key and go: short-lived, narrow (app.tcss), at the bottom over the event
    # log, which repeats what they say; the plots at the top stay clear.
    NOTIFICATION_TIMEOUT = 4
    BINDINGS = [Binding("question_mark", "help", "help", id="help")]

    def __init__(self, settings: Settings, *, rows: SignatureRows | None = None,
                 clock: Callable[[], datetime] | None = None, check_db: bool = True,
                 attach: str | None = None) -> None:
        """rows: train on these instead of reading the database (tests, benchmarks: the
        trainer process gets them as a --rows-file); clock: the event log's time source (tests
        pin it); check_db=False skips the start-up check; attach: a run folder to follow at
        start (else the newest live run on this host). Every run trains in its own process."""
        super().__init__()
        self.settings = settings
        # [keys]: binding id -> keys (validated in engine.settings: known actions, no key twice).
        self.set_keymap(settings.keys.model_dump())
        self.state = DashboardState(device=_device_now(settings.train.device),
                                    clock=clock or datetime.now)
        self.runner: RunController = DetachedController(self, settings, rows=rows)
        self._attach = attach
        self._check_db = check_db and rows is None
        if rows is not None:
            self.state.set_data(DataSource(status=DataStatus.OK, mode="in-memory", table="rows",
                                           rows=len(rows)))
        self._quitting = False
        self._start_after_check: tuple[str | None, bool] | None = None  # `s` pressed during the check
        self._sighup = False
        self._keys_for: tuple = ()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._old_sighup: object = signal.SIG_DFL
        self._cancel_seed = threading.Event()  # set on exit: seeding is atomic, so cancel is safe
        self._cancel_import = threading.Event()  # `i` again, or exit: the import is atomic too

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
        if self.state.device == "…":
            self.run_worker(self._detect_device, name="device", group="device", thread=True)
        self.attach_at_start()
        # Dropped SSH: detach (the run trains on), then leave (main thread, Unix only). A plain
        # handler, not loop.add_signal_handler: it must run before the SIGCONT the kernel
        # sends right after SIGHUP (Python runs pending handlers in signal-number order).
        self._loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGHUP"):
            self._old_sighup = signal.signal(signal.SIGHUP, self._on_sighup)
            self._sighup = True
        self._catch_sigterm()

    def _detect_device(self) -> None:
        """Thread worker: import torch (seconds on a small machine) after the first frame."""
        from engine.model import pick_device

        device = pick_device(self.settings.train.device).type
        self.call_from_thread(self._show_device, device)

    def _show_device(self, device: str) -> None:
        if self.state.device == "…":  # a run that started meanwhile has set the real one
            self.state.set_device(device)
            self.redraw()

    @staticmethod
    def _freeze_heap() -> None:
        gc.collect()  # what is garbage now must not be frozen for the life of the process
        gc.freeze()

    def on_unmount(self) -> None:
        from engine.data.client import abandon_waits

        abandon_waits()  # a database call stuck on a silent server must not hold the exit
        if getattr(self, "_old_sigterm", None) is not None:
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None
        gc.unfreeze()
        if self._sighup:
            signal.signal(signal.SIGHUP, self._old_sighup)
            self._sighup = False
        self.runner.close()  # the follower ends; the run keeps training in its own process
        self._cancel_seed.set()
        self._cancel_import.set()

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
        if self.state.data.status in (DataStatus.SEEDING, DataStatus.BUILDING, DataStatus.IMPORTING):
            self.answer(f"the database is busy ({self.state.data.status}): it is checked again when that ends")
            return
        self.state.set_data(datasource.describe(self.settings.database))
        self.redraw()
        db, spots = self.settings.database, self.settings.ingest.spots_table
        self.run_worker(lambda: self.post_message(DataChecked(datasource.check(db, spots))),
                        name="data-check", group="data", thread=True, exclusive=True,
                        exit_on_error=False)

    def on_data_checked(self, msg: DataChecked) -> None:
        d = msg.data
        self.state.set_data(d)
        if d.status == DataStatus.OK:
            self.state.note(f"data: {d.mode} {d.table}, {d.rows:,} usable rows")
        elif d.status == DataStatus.EMPTY:
            self.state.note(f"data: {d.message} Press d to seed {self.settings.demo.rows:,} demo rows.",
                            "warning")
        elif d.status == DataStatus.ERROR:
            self.state.note(f"data: {d.message}" + (f" [setting: {d.setting}]" if d.setting else ""),
                            "error")
        self.redraw()
        pending, self._start_after_check = self._start_after_check, None
        if pending is not None and d.status != DataStatus.CHECKING:
            self.start_run(*pending)  # the start key pressed during the check

    def seed_demo(self) -> None:
        d = self.state.data
        if d.status != DataStatus.EMPTY:
            self.answer("demo data is offered only when the embedded database is empty")
            return
        db, demo = self.settings.database, self.settings.demo
        min_spots = self.settings.ingest.min_spots
        self.state.set_data(DataSource(status=DataStatus.SEEDING, mode=d.mode, where=d.where, table=d.table,
                                       rows=None, seed_total=2 * demo.rows))
        self.state.note(f"seeding {demo.rows:,} demo rows into {d.table}…")
        self.redraw()

        def work() -> None:
            progress = lambda done, total: self.post_message(SeedProgress(done, total))  # noqa: E731
            self.post_message(DataChecked(datasource.seed(db, demo.rows, demo.seed, progress=progress,
                                                          cancel=self._cancel_seed.is_set,
                                                          min_spots=min_spots)))

        self.run_worker(work, name="seed", group="data", thread=True, exit_on_error=False)

    def import_bundle(self) -> None:
        """`i`: import the IONIS signature bundle from ionis-download's place; `i` again cancels."""
        from ionis_tui import importing

        d = self.state.data
        if d.status == DataStatus.IMPORTING:
            self._cancel_import.set()
            self.state.note("cancelling the import (the old table stays)…", "warning")
            return
        path = importing.bundle_path()
        if self.runner.running or d.status in (DataStatus.CHECKING, DataStatus.SEEDING, DataStatus.BUILDING) or not path.is_file():
            why = (f"no bundle at {path}: get it with `ionis-download` (PyPI ionis-mcp)"
                   if not path.is_file() else "wait until the current run or data job ends")
            self.answer(f"cannot import: {why}")
            return
        db = self.settings.database
        self._cancel_import.clear()
        self.state.set_data(DataSource(status=DataStatus.IMPORTING, mode=d.mode, where=d.where,
                                       table=d.table, rows=None, message=str(path)))
        self.state.note(f"importing the IONIS signature bundle {path} into {d.table}…")
        self.redraw()

        def work() -> None:
            progress = lambda done, total: self.post_message(SeedProgress(done, total))  # noqa: E731
            d, line, ok = importing.run_import(db, path, progress=progress,
                                               cancel=self._cancel_import.is_set)
            self.post_message(importing.ImportDone(line, ok))
            self.post_message(DataChecked(d))

        self.run_worker(work, name="import", group="data", thread=True, exit_on_error=False)

    def on_import_done(self, msg) -> None:  # ionis_tui.importing.ImportDone
        self.state.note(f"data: {msg.line}", "info" if msg.ok else "warning")
        if not msg.ok:
            self.notify(msg.line, severity="warning")

    def build_from_spots(self) -> None:
        """`data build` from the app: signatures from the ingested spots, with a progress bar."""
        d = self.state.data
        if not d.spots or self.runner.running or d.status not in (DataStatus.EMPTY, DataStatus.OK):
            self.answer("nothing to build from: ingest spot files with `ionis-tui data ingest`")
            return
        self.state.set_data(DataSource(status=DataStatus.BUILDING, mode=d.mode, where=d.where, table=d.table,
                                       rows=None, seed_total=3, spots=d.spots))
        self.state.note(f"building signatures in {d.table} from {d.spots:,} spots…")
        self.redraw()
        settings = self.settings

        def work() -> None:
            progress = lambda done, total: self.post_message(SeedProgress(done, total))  # noqa: E731
            self.post_message(DataChecked(datasource.build(settings, progress=progress)))

        self.run_worker(work, name="build", group="data", thread=True, exit_on_error=False)

    def on_seed_progress(self, msg: SeedProgress) -> None:
        d = self.state.data
        if d.status in (DataStatus.SEEDING, DataStatus.BUILDING, DataStatus.IMPORTING):
            d.seed_done, d.seed_total = msg.done, msg.total
            self.state.set_data(d)

    # ------------------------------------------------------------------ training
    def answer(self, text: str, severity: str = "warning") -> None:
        """Answer a key that cannot act now: in the event log (it stays) and as a toast."""
        self.state.note(text, "error" if severity == "error" else "warning")
        self.notify(text, severity=severity)
        self.redraw()

    def start_run(self, resume: str | None = None, force: bool = False) -> bool:
        if self.runner.running:
            self.answer("a run is already active: p pauses it, x stops it")
            return False
        d = self.state.data
        if d.status == DataStatus.CHECKING:
            # A key typed before the check has answered (often before the first frame) is
            # kept: the run starts when the check ends well (on_data_checked), else says why.
            self._start_after_check = (resume, force)
            self.state.note("start requested: the run starts once the database check has answered")
            self.redraw()
            return True
        if d.status != DataStatus.OK:
            why = {"empty": "the database is empty: press d to seed demo data",
                   "seeding": "demo data is still being written",
                   "building": "signatures are still being built",
                   "importing": "the signature bundle is still being imported",
                   "error": f"the database is not usable: fix {d.setting or 'the settings'} (see the panel)"}
            self.answer(f"cannot start: {why.get(d.status, d.status)}", severity="error")
            return False
        self.state.reset_run()
        self.state.note(f"resuming run {resume}…" if resume else "starting a new run…")
        try:
            self.runner.start(resume=resume, force=force)
        except (IonisError, OSError) as exc:
            self.state.fail(str(exc))
            self.notify(str(exc), severity="error")
            self.redraw()
            return False
        self.state.note(f"trainer pid {self.runner.session.pid} started in its own process "
                        f"(log: {self.runner.session.run_dir}/trainer.log); q can detach from it")
        self.redraw()
        return True

    def attach_at_start(self) -> None:
        """Follow the run named with --attach, else the newest live run on this host."""
        import socket

        from engine.train.runs import is_live, list_runs, run_info

        if self._attach:
            info = run_info(Path(self._attach))
            if info is None:
                self.notify(f"{self._attach} is not a run folder", severity="error")
                return
        else:
            try:
                runs = list_runs(self.settings.runs.dir)
            except StorageError as exc:  # a start says so again; the app lives on
                self.state.note(f"cannot look for live runs: {exc}", "warning")
                return
            live = [r for r in runs if is_live(r.state) and r.host == socket.gethostname()]
            if not live:
                return
            info = live[0]
        self.attach_run(info)

    def attach_run(self, info: RunInfo) -> bool:
        """Show a run another process trains: its history, then live progress."""
        from engine.train.runs import is_live

        if not is_live(info.state):
            self.notify(f"run {info.run_id} is not running (state: {info.state})", severity="warning")
            return False
        if self.runner.running:
            self.notify(f"already showing run {self.runner.session.run_id}: quit and detach first",
                        severity="warning")
            return False
        self.state.reset_run()
        self.state.run_id, self.state.run_dir, self.state.state = info.run_id, str(info.path), info.state
        self.state.note(f"attached to run {info.run_id} (trainer pid {info.pid}); q detaches, "
                        "the run keeps training")
        self.runner.attach(info.path, info.pid, info.state)
        self.notify(f"attached to run {info.run_id} (trainer pid {info.pid})")
        self.redraw()
        return True

    def on_resume_requested(self, msg: ResumeRequested) -> None:
        """Go back to the dashboard and resume the run, or say why it cannot be resumed."""
        from engine.train.runs import is_live

        run = msg.run
        if run is None:
            self.notify("no run selected")
            return
        if not run.resumable:
            why = ("it has finished" if run.state == "finished" else
                   "it is still running (a attaches to it)" if is_live(run.state) else
                   "it has no last.pt checkpoint")
            self.notify(f"run {run.run_id} cannot be resumed: {why}", severity="warning")
            return
        if self.runner.running:
            self.notify("a run is already active: stop it first (x)", severity="warning")
            return
        changed = self._resume_data_changes(run)
        if changed:
            question = (f"The data of run {run.run_id} changed since it last trained: {'; '.join(changed)}.\n"
                        "Continue it on the new data as a new phase? Its best epoch is then tracked on "
                        "the new data only; a new run (s on the dashboard) keeps the two apart.")
            self.push_screen(ConfirmScreen(question, yes="New phase", no="Cancel"),
                             lambda yes: self._resume(run, force=True) if yes else self.answer(
                                 f"run {run.run_id} not resumed: its data changed", "information"))
            return
        self._resume(run, force=False)

    def _resume(self, run: RunInfo, force: bool) -> None:
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.start_run(resume=str(run.path), force=force)

    def _resume_data_changes(self, run: RunInfo) -> list[str]:
        """The engine's resume check (engine.train.data_identity), asked before a resume so
        the user can confirm a new phase; [] when it cannot ask now (the trainer still checks)."""
        from engine.train.data_identity import resume_data_changes

        if self.runner.rows is None and self.state.data.status != DataStatus.OK:
            return []  # the database is not ready: the trainer refuses with the same words
        try:
            return resume_data_changes(run.path, self.settings, rows=self.runner.rows)
        except (IonisError, OSError, ValueError):
            return []

    def on_attach_requested(self, msg: AttachRequested) -> None:
        """The runs list asks to follow a run another process trains."""
        run = msg.run
        if run is None:
            self.notify("no run selected")
            return
        from engine.train.runs import is_live

        if is_live(run.state) and not self.runner.running:
            while len(self.screen_stack) > 1:
                self.pop_screen()
        self.attach_run(run)

    def on_train_event(self, msg: TrainEvent) -> None:
        self.state.apply(msg.event, msg.at)
        if (isinstance(msg.event, ev.RunStarted) and self.state.data.status == DataStatus.ERROR
                and self.settings.database.mode == "embedded"):
            self.check_data()  # the trainer held the embedded database while loading; now free
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
        elif w.name in ("data-check", "seed", "import") and event.state == WorkerState.ERROR:
            d = datasource.describe(self.settings.database)
            d.status, d.message = DataStatus.ERROR, f"database check failed: {w.error}"
            self.state.set_data(d)
            self.redraw()
        elif w.name == WORKER_NAME:
            self.update_keys()

    def toggle_pause(self) -> None:
        what = self.runner.toggle_pause()
        if what:
            self.state.note(f"{what} requested")
            self.redraw()
        else:
            self.answer("no run is active: s starts one")

    def confirm_stop(self) -> None:
        if not self.runner.active:
            self.answer("no run is active: s starts one")
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
            self.answer("no run is active: s starts one")

    # ------------------------------------------------------------------ other screens
    def show_runs(self) -> None:
        from ionis_tui.screens.runs import RunsScreen

        self.push_screen(RunsScreen(self.settings.runs.dir))

    def show_tool(self, which: str) -> None:
        """v / m: the verify and matrix screens, fed with the live model when training."""
        # Imported on first use (torch-heavy); a broken dependency is an error, never hidden.
        if which == "verify":
            from ionis_tui.screens.verify import VerifyScreen as Tool
        else:
            from ionis_tui.screens.matrix import MatrixScreen as Tool
        self.push_screen(Tool(self.settings, live_model=self.runner.live_model))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        screen = self.screen
        keys = key_rows(self, screen)
        # Kept per screen and key set: showing it again costs a render, not a compose.
        name = f"help-{type(screen).__name__}-{hash(keys) & 0xFFFFFFFF:x}"
        if not self.is_screen_installed(name):
            paths = paths_in_use(self.settings, short=True)  # its length: not the machine's
            self.install_screen(HelpScreen(keys, help_title(screen), paths["runs"], paths), name)
        self.push_screen(name)

    def _fatal_error(self) -> None:
        """Textual's crash printout lists every frame's local variables, settings and the
        database password among them: print the traceback without locals."""
        import rich
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        tb = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(Segments(self.console.render(tb, self.console.options)))
        self._close_messages_no_wait()

    # ------------------------------------------------------------------ leaving
    async def action_quit(self) -> None:  # ctrl+q too
        self.request_quit()

    def request_quit(self) -> None:
        if self._quitting:
            return
        if not self.runner.active:
            self.exit(0)
            return

        def choose(what: str | None) -> None:
            if what == "detach":
                self._stop_then_exit("detach", stop=False)
            elif what == "stop":
                self._stop_then_exit("quit")

        self.push_screen(QuitScreen(self.runner.session.run_id), choose)

    def _on_sighup(self, signum: int, frame: object) -> None:
        # Runs in the main thread between two bytecodes: only the urgent part happens here.
        if not self.is_headless:
            # Textual's SIGCONT handler would restart terminal output on the dead terminal
            # (a new writer thread that dies on EIO, so the exit then blocks forever).
            signal.signal(signal.SIGCONT, signal.SIG_DFL)
            detach_terminal()
        self._loop.call_soon_threadsafe(self.hangup)

    def _catch_sigterm(self) -> None:
        """SIGTERM (kill, a service manager) is a confirmed quit: a run this app started is
        stopped with a checkpoint; a run it only views (attached to) is left training. Then the
        terminal is restored and the app exits 143. A plain handler, as for SIGHUP (main
        thread only)."""
        self._old_sigterm = None
        if threading.current_thread() is not threading.main_thread():
            return

        def on_sigterm(signum: int, frame: object) -> None:
            self._exit_status = 128 + signum
            self._loop.call_soon_threadsafe(self.terminated)

        self._old_sigterm = signal.signal(signal.SIGTERM, on_sigterm)

    def hangup(self) -> None:
        """SIGHUP: the terminal is gone. The run keeps training in its own process; exit."""
        self._stop_then_exit("hangup (SIGHUP)", hung_up=True, stop=False)

    def terminated(self) -> None:
        """SIGTERM: stop the run this app started; detach from a run it only views."""
        viewing = self.runner.running and not self.runner.started_here
        if viewing:
            self.state.note("terminated (SIGTERM): detaching; the run keeps training")
        self._stop_then_exit("terminated (SIGTERM)", stop=not viewing)

    def _stop_then_exit(self, why: str, hung_up: bool = False, stop: bool = True) -> None:
        if self._quitting:
            return
        self._quitting = True

        async def work() -> None:
            if not stop:
                self.runner.detach()  # the trainer goes on; only the follower ends
                await self.runner.wait(5.0)
            elif self.runner.running:
                self.state.note(f"{why}: stopping the run with a checkpoint…")
                self.redraw()
                self.runner.stop()
                if not await self.runner.wait(STOP_TIMEOUT_S):
                    self.state.note("the run did not stop in time", "error")
            if hung_up and not self.is_headless:
                # Last resort: the checkpoint is on disk; if tearing down the dead terminal
                # still hangs, leave anyway rather than linger as an orphan.
                threading.Thread(target=exit_later, args=(EXIT_GRACE_S,), daemon=True).start()
            self.exit(getattr(self, "_exit_status", 0))

        self.run_worker(work(), name="quit", group="quit", exit_on_error=False)


def _device_now(preference: str) -> str:
    """The device for the header: known at once when torch is already loaded (or cpu is
    asked for); otherwise "…" until _detect_device has imported torch off the first frame."""
    import sys

    if preference == "cpu":
        return "cpu"
    if "torch" not in sys.modules:
        return "…"
    from engine.model import pick_device

    return pick_device(preference).type
