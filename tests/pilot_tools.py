"""Helpers for driving the app headless (tests, benchmarks): read the screen as text, send a
key without waiting, host one screen. They touch Textual internals, so they live with the
tests, not in the runtime package. Real app, real Pilot; nothing here fakes the app."""

from __future__ import annotations

from textual.app import App


def screen_text(app: App) -> str:
    """The current screen as plain text, one line per terminal row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def send_key(app: App, key: str, char: str | None = None) -> None:
    """Deliver one key press the way the terminal driver does, and return at once.

    Pilot.press() also waits until the whole process is idle (up to a second per key),
    which never happens while a training thread is busy; measuring key latency needs the
    press alone."""
    from textual import events

    event = events.Key(key, char if char is not None else (key if len(key) == 1 else None))
    event.set_sender(app)
    app._driver.send_message(event)


class Host(App):
    """A bare app that opens one screen: for testing a screen on its own."""

    def __init__(self, screen_factory):
        super().__init__()
        self._factory = screen_factory

    def on_mount(self) -> None:
        self.push_screen(self._factory())
