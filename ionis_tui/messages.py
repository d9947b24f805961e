"""Textual messages carrying news from worker threads to the app's event loop.

Threads only ever post_message (thread-safe, never blocks); the loop does all UI work."""

from __future__ import annotations

from datetime import datetime

from textual.message import Message

from engine.train.events import Event
from engine.train.runs import RunInfo
from ionis_tui.dashboard_state import DataSource


class TrainEvent(Message):
    """One event from the training session (engine.train.events); `at`: when it happened,
    for an event replayed on attach (live ones are stamped as they arrive)."""

    def __init__(self, event: Event, at: datetime | None = None) -> None:
        super().__init__()
        self.event = event
        self.at = at


class RunHistory(Message):
    """A resumed run's earlier epochs (its metrics.jsonl), read in the training thread."""

    def __init__(self, rows: list[dict]) -> None:
        super().__init__()
        self.rows = rows


class DataChecked(Message):
    """The database check (or a demo seeding) finished or moved on."""

    def __init__(self, data: DataSource) -> None:
        super().__init__()
        self.data = data


class SeedProgress(Message):
    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done = done
        self.total = total


class AttachRequested(Message):
    """A screen asks the app to follow a live run (None: nothing selected); the app checks it."""

    def __init__(self, run: RunInfo | None) -> None:
        super().__init__()
        self.run = run


class ResumeRequested(Message):
    """A screen asks the app to resume a run (None: nothing selected); the app checks it."""

    def __init__(self, run: RunInfo | None) -> None:
        super().__init__()
        self.run = run
