"""RunController: what the app needs from whatever trains its run. The one implementation is
ionis_tui.detached.DetachedController (the run trains in its own `ionis-tui train --headless`
process, which outlives the app); tests and benchmarks go through it too (rows as a file).
The app types its controller with this protocol, so it depends on the calls, not the class."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from engine.checkpoint import LoadedModel


class RunHandle(Protocol):
    """The run being shown: its folder, its trainer's pid and its latest reported state."""
    run_dir: Path
    pid: int | None
    state: str

    @property
    def run_id(self) -> str: ...


class RunController(Protocol):
    session: RunHandle | None

    @property
    def running(self) -> bool:
        """Following a run (its trainer may still be writing its last checkpoint)."""

    @property
    def active(self) -> bool:
        """Following a live run (engine.train.runs.is_live): one quitting would leave or stop."""

    @property
    def paused(self) -> bool: ...

    @property
    def started_here(self) -> bool:
        """This app started the trainer (s / resume); False when it only attached to it."""

    def live_model(self) -> LoadedModel | None: ...

    def start(self, resume: str | None = None) -> None:
        """Start a trainer for a new run (or resume = a run folder) and follow it."""

    def attach(self, run_dir: str | os.PathLike, pid: int | None, state: str) -> None:
        """Follow a run another process trains."""

    def toggle_pause(self) -> str:
        """Ask for pause or resume; returns which ("" when no run is active)."""

    def stop(self) -> bool: ...

    def checkpoint(self) -> bool: ...

    def detach(self) -> None:
        """Stop following; the trainer goes on."""

    def close(self) -> None:
        """The app is closing."""

    async def wait(self, timeout: float | None = None) -> bool:
        """Until the follower has ended; False on timeout."""
