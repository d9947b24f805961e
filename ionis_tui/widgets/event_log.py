"""The event log: loaded rows, epochs, checkpoints, warnings and errors, newest at the bottom."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import RichLog

from ionis_tui.dashboard_state import DashboardState, LogLine

LEVEL_STYLE = {"info": "", "warning": "yellow", "error": "bold red"}


class EventLog(RichLog):
    DEFAULT_CSS = """
    EventLog { border: round $primary 50%; border-title-color: $text-muted; }
    """

    def __init__(self, **kwargs) -> None:
        # min_width: RichLog's default (78) would wrap wider than a side panel and crop lines.
        super().__init__(wrap=True, max_lines=2000, min_width=20, **kwargs)
        self.border_title = "events"
        self._seen = 0
        self._state: DashboardState | None = None
        self._width = 0

    def show(self, s: DashboardState) -> None:
        """Write the lines logged since the last call (only those still kept)."""
        self._state = s
        new = s.log_seq - self._seen
        if new <= 0:
            return
        for line in list(s.log)[-min(new, len(s.log)):]:
            self.write(_text(line))
        self._seen = s.log_seq

    def on_resize(self, event: events.Resize) -> None:
        super().on_resize(event)
        # RichLog wraps a line once, at the width it had when written; rewrap all on resize
        # (the state keeps every line, so nothing is lost).
        if event.size.width != self._width and self._state is not None:
            self._width = event.size.width
            self.clear()
            for line in self._state.log:
                self.write(_text(line))
            self._seen = self._state.log_seq


def _text(line: LogLine) -> Text:
    text = Text(f"{line.stamp} ", "dim")
    text.append(line.text, LEVEL_STYLE.get(line.level, ""))
    return text
