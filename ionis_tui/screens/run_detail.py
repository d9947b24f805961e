"""One run's curves and last-epoch figures, read from its metrics.jsonl."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from ionis_tui import fmt
from ionis_tui.messages import ResumeRequested
from ionis_tui.widgets.metrics_view import MetricsView

if TYPE_CHECKING:
    from engine.train.runs import RunInfo


class RunDetailScreen(Screen):
    HELP_TITLE = "run"  # the `?` screen's title and the README key table's row
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    BINDINGS = [Binding("escape", "app.pop_screen", "back"), Binding("s", "resume", "resume")]

    def __init__(self, run: RunInfo) -> None:
        super().__init__()
        self.run_info = run
        self.history: list[dict] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-summary")
        with VerticalScroll(id="detail-body"):
            yield MetricsView(id="detail-main")
        yield Footer()

    def on_mount(self) -> None:
        from engine.train.runs import read_metrics

        self.history = read_metrics(self.run_info.path)
        view = self.query_one(MetricsView)
        view.show_history(self.history)
        view.show_sidecars(self.history[-1] if self.history else {})
        self.query_one("#detail-summary", Static).update(self.summary())
        self.query_one("#detail-body").focus()

    def summary(self) -> Text:
        r = self.run_info
        t = Text()
        t.append(f"run {r.run_id}", "bold")
        t.append(f" · {r.created.astimezone().strftime('%Y-%m-%d %H:%M')} · {r.state} · "
                 f"epochs {r.epochs_done}/{r.epochs_total} · best Pearson {fmt.num(r.best_val_pearson, '+.4f')}"
                 f" · best RMSE {fmt.num(r.best_val_rmse_db, '.2f')} dB")
        t.append("\n" + ("s: resume this run · " if r.resumable else "") + "escape: back", "dim")
        if not self.history:
            t.append("\nno epoch has finished in this run (metrics.jsonl is empty)", "yellow")
        return t

    def action_resume(self) -> None:
        self.post_message(ResumeRequested(self.run_info))
