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
            self.write(self._text(line))
        self._seen = s.log_seq
        self._to_end()

    def _to_end(self) -> None:
        # RichLog's own scroll on write can run before the new lines are laid out (a burst
        # written at once left the oldest lines showing); scroll again after the refresh.
        self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)

    def _text(self, line: LogLine) -> Text:
        """The line wrapped here with a hanging indent: continuation lines start under the
        text, not under the time stamp."""
        width = self.scrollable_content_region.width
        body = Text(line.text, LEVEL_STYLE.get(line.level, ""))
        indent = len(line.stamp) + 1
        if width <= indent + 10:
            return Text(f"{line.stamp} ", "dim") + body
        parts = body.wrap(self.app.console, width - indent)
        out = Text(f"{line.stamp} ", "dim")
        for i, part in enumerate(parts):
            if i:
                out.append("\n" + " " * indent)
            out.append_text(part)
        return out

    def on_resize(self, event: events.Resize) -> None:
        super().on_resize(event)
        # RichLog wraps a line once, at the width it had when written; rewrap all on resize
        # (the state keeps every line, so nothing is lost).
        if event.size.width != self._width and self._state is not None:
            self._width = event.size.width
            self.clear()
            for line in self._state.log:
                self.write(self._text(line))
            self._seen = self._state.log_seq
            self._to_end()

