"""The runs list: every run folder with its date, epochs, best Pearson/RMSE and state.

enter opens a run's curves; s resumes the highlighted run when it can be resumed; a attaches the
dashboard to a live run (one a trainer process is training now, from any session). The list
follows the runs by itself (epochs, state) while it is shown; g reloads it at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from engine.locations import short_path
from ionis_tui import fmt
from ionis_tui.messages import AttachRequested, ResumeRequested

if TYPE_CHECKING:
    from engine.train.runs import RunInfo

REFRESH_S = 1.0          # the list's refresh while a run in it is live
IDLE_REFRESH_TICKS = 5   # without one: every 5 s


class RunsScreen(Screen):
    HELP_TITLE = "runs list"  # the `?` screen's title and the README key table's row
    BINDINGS = [
        Binding("escape", "app.pop_screen", "back"),
        # priority: the table would take enter for itself, and the footer would not show it.
        Binding("enter", "open", "open run", priority=True),
        Binding("s", "resume", "resume"),
        Binding("a", "attach", "attach"),
        Binding("g", "reload", "reload"),
    ]
    KEY_HELP = {"open": "open the selected run: its curves and sidecars"}
    DEFAULT_CSS = """
    RunsScreen DataTable { height: 1fr; }
    RunsScreen #runs-note { height: auto; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, runs_dir: str) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.runs: list[RunInfo] = []
        self._rows: list[tuple] = []
        self._ticks = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-note")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        # The run id goes last: it is the widest and repeats the date (hence the short one
        # here, which leaves room for the whole id at 80 columns).
        t.add_columns("date", "epochs", "Pearson", "RMSE dB", "state", "resume", "run")
        self.action_reload()
        t.focus()
        self.set_interval(REFRESH_S, self._refresh)

    def _refresh(self) -> None:
        """Live while it is shown: every REFRESH_S with a live run in the list (its epochs
        move), else every IDLE_REFRESH_TICKS of them (a run started elsewhere appears)."""
        from engine.train.runs import is_live

        self._ticks += 1
        if any(is_live(r.state) for r in self.runs) or self._ticks % IDLE_REFRESH_TICKS == 0:
            self.action_reload()

    def action_reload(self) -> None:
        from engine.errors import StorageError
        from engine.train.runs import is_live, list_runs

        try:
            self.runs = list_runs(self.runs_dir)
        except StorageError as exc:  # unreadable, or a file: say so, not "no runs yet"
            self.runs, self._rows = [], []
            self.query_one(DataTable).clear()
            self.query_one("#runs-note", Static).update(f"cannot list runs: {exc}")
            return
        t = self.query_one(DataTable)
        rows = [(r.created.astimezone().strftime("%m-%d %H:%M"), f"{r.epochs_done}/{r.epochs_total}",
                 fmt.num(r.best_val_pearson, "+.4f"), fmt.num(r.best_val_rmse_db, ".2f"), r.state,
                 "yes" if r.resumable else "", r.run_id, str(r.path)) for r in self.runs]
        if rows != self._rows:  # a refresh that changes nothing redraws nothing
            i = self.selected_index(t)
            chosen = None if i is None else self._rows[i][-1]
            self._rows = rows
            t.clear()
            for row in rows:
                t.add_row(*row[:-1], key=row[-1])
            keys = [row[-1] for row in rows]
            if chosen in keys:  # the cursor stays on its run
                t.move_cursor(row=keys.index(chosen))
        live = sum(is_live(r.state) for r in self.runs)
        where = short_path(self.runs_dir)  # as help names it: not the machine's absolute path
        note = (f"{len(self.runs)} run(s) in {where} · best = lowest validation loss"
                + (f" · {live} live: a attaches" if live else "")
                if self.runs else f"no runs in {where} yet: press escape, then s to start one")
        self.query_one("#runs-note", Static).update(note)

    def selected_index(self, t: DataTable) -> int | None:
        if not self._rows or t.cursor_row is None or not 0 <= t.cursor_row < len(self._rows):
            return None
        return t.cursor_row

    @property
    def selected(self) -> RunInfo | None:
        i = self.selected_index(self.query_one(DataTable))
        return None if i is None else self.runs[i]

    def action_open(self) -> None:
        from ionis_tui.screens.run_detail import RunDetailScreen

        run = self.selected
        if run is not None:
            self.app.push_screen(RunDetailScreen(run))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_resume(self) -> None:
        self.post_message(ResumeRequested(self.selected))  # the app decides and says why not

    def action_attach(self) -> None:
        self.post_message(AttachRequested(self.selected))
