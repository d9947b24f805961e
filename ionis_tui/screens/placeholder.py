"""Stands in for a screen whose module is not installed (v / m before their code lands)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static


class PlaceholderScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "back")]

    def __init__(self, title: str, reason: str) -> None:
        super().__init__()
        self.title_text, self.reason = title, reason

    def compose(self) -> ComposeResult:
        text = Text.assemble((self.title_text, "bold"), " is not available in this installation.\n\n",
                             self.reason, "\n\nescape: back to the dashboard")
        yield Static(text, id="placeholder")
        yield Footer()
