"""Quitting with a run active: detach (the run keeps training), stop it, or stay.

Dismisses with "detach", "stop" or "cancel"."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class QuitScreen(ModalScreen[str]):
    HELP_TITLE = "quit"  # the `?` screen's title and the README key table's row
    BINDINGS = [Binding("d", "answer('detach')", "detach"), Binding("s", "answer('stop')", "stop"),
                Binding("c,escape", "answer('cancel')", "cancel")]
    DEFAULT_CSS = """
    QuitScreen { align: center middle; }
    QuitScreen > Vertical { width: 74; max-width: 95%; height: auto; border: thick $warning;
        background: $surface; padding: 0 1; }
    QuitScreen Horizontal { height: auto; align: center middle; }
    QuitScreen Button { margin: 0 1; }
    """

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Run {self.run_id} is active. Detach: it keeps training and the next "
                         "ionis-tui shows it. Stop: save a checkpoint and stop it.", id="question")
            with Horizontal():
                yield Button("Detach (d)", id="detach", variant="primary")
                yield Button("Stop (s)", id="stop", variant="warning")
                yield Button("Cancel (c)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#detach", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(str(event.button.id))

    def action_answer(self, what: str) -> None:
        self.dismiss(what)
