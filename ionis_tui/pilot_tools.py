"""Helpers for driving the app headless (tests, benchmarks): wait for a condition, read the
screen as text. Real app, real Pilot; nothing here fakes the app's behaviour."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import App
from textual.pilot import Pilot


async def wait_until(pilot: Pilot, predicate: Callable[[], bool], timeout: float = 30.0,
                     step: float = 0.02, what: str = "") -> float:
    """Let the app run until predicate() is true; returns the seconds waited.

    Raises TimeoutError naming `what` (and the screen's text) when it never happens."""
    t0 = time.perf_counter()
    while not predicate():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what or predicate}\n"
                               f"{screen_text(pilot.app)}")
        await pilot.pause(step)
    return time.perf_counter() - t0


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
