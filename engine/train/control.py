"""A run's control and progress channel: two plain files next to the run, no server.

    <run>/events.jsonl   the trainer's events (engine.train.events), one JSON object a line,
                         {"type": "<EventClass>", "t": <unix time written>, ...its fields}. Written by the trainer process
                         only, truncated when a trainer starts on the folder, append-only after.
                         Any number of viewers read it from any offset (tail -f style).
    <run>/control/       commands to the trainer: one file per command, named
                         "<time_ns>-<pid>-<command>", created atomically (temp file + rename).
                         The trainer polls the folder every POLL_S, acts, deletes the file.

Commands: pause, resume, stop, checkpoint. A command is acknowledged by its effect in
events.jsonl (StateChanged paused/training/stopped, CheckpointSaved manual). Works on any
local file system on macOS and Linux; sender and trainer must share the folder.

A command file holds its command and, on its second line, "expires <unix time>": a trainer
that was frozen (SIGSTOP, a suspended laptop) and finds it late deletes it unacted and says
so, and a sender that gives up waiting withdraws it (withdraw()), so a command nobody is
waiting for any more is never carried out later.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.atomic import named
from engine.train import events as ev

EVENTS, CONTROL = "events.jsonl", "control"
COMMANDS = ("pause", "resume", "stop", "checkpoint")
POLL_S = 0.02  # command pick-up delay; a scandir of an empty folder costs microseconds
COMMAND_TTL_S = 60.0  # a live trainer takes a command within POLL_S; later means it was frozen
_TYPES: dict[str, type] = {c.__name__: c for c in (ev.StateChanged, ev.LoadProgress, ev.RunStarted,
                                                    ev.StepProgress, ev.EpochEnd, ev.CheckpointSaved,
                                                    ev.Notice, ev.RunEnded)}


def encode(event: ev.Event, t: float | None = None) -> str:
    """One line; "type" comes first so readers can skip a line without parsing it; "t" is
    when it happened (unix seconds), so a viewer that attaches later shows the real times."""
    return json.dumps({"type": type(event).__name__, "t": time.time() if t is None else t,
                       **dataclasses.asdict(event)}) + "\n"


def decode_timed(line: str) -> tuple[ev.Event, float | None] | None:
    """The event on a line and when it was written (None for a line without a time), or
    None for a torn, foreign or unknown line."""
    try:
        obj = json.loads(line)
        cls = _TYPES[obj.pop("type")]
        t = obj.pop("t", None)
        return cls(**obj), (float(t) if isinstance(t, int | float) else None)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def decode(line: str) -> ev.Event | None:
    """The event on a line, or None for a torn, foreign or unknown line."""
    got = decode_timed(line)
    return got[0] if got else None


class EventWriter:
    """The trainer's side: on_event callback appending each event to events.jsonl.
    Not fsynced: it is a live feed; the durable record is metrics.jsonl and state.json."""

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self._fh = open(Path(run_dir, EVENTS), "w", encoding="utf-8")  # a new trainer, a new feed
        self._lock = threading.Lock()

    def __call__(self, event: ev.Event) -> None:
        with self._lock:
            if not self._fh.closed:
                try:
                    self._fh.write(encode(event))
                    self._fh.flush()
                except OSError as exc:  # a full disk: say which file
                    raise named(exc, self._fh.name) if exc.filename is None else exc from None

    def close(self) -> None:
        with self._lock:
            try:
                self._fh.close()
            except OSError:
                pass  # the buffered line a full disk refused: the run already failed on it


class EventReader:
    """A viewer's side: read(), called repeatedly, returns the events appended since the last
    call (only whole lines). A file cut shorter than what was read means a new trainer
    started on the folder: reading starts again from its beginning."""

    def __init__(self, run_dir: str | os.PathLike, offset: int = 0) -> None:
        self.path = Path(run_dir, EVENTS)
        self.offset = offset
        self.restarted = False

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def read_lines(self, until: int | None = None) -> list[str]:
        size = self.size()
        if size < self.offset:
            self.offset, self.restarted = 0, True
        end = size if until is None else min(until, size)
        if end <= self.offset:
            return []
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read(end - self.offset)
        except OSError:
            return []
        cut = data.rfind(b"\n") + 1  # a line still being written waits for the next call
        self.offset += cut
        return data[:cut].decode("utf-8", errors="replace").splitlines()

    def read(self, until: int | None = None) -> list[ev.Event]:
        return [e for e in map(decode, self.read_lines(until)) if e is not None]


def send(run_dir: str | os.PathLike, command: str, ttl_s: float = COMMAND_TTL_S) -> Path:
    """Queue a command for the run's trainer, void after ttl_s seconds; returns the command file."""
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}; expected one of {', '.join(COMMANDS)}")
    folder = Path(run_dir, CONTROL)
    folder.mkdir(exist_ok=True)
    name = f"{time.time_ns()}-{os.getpid()}-{command}"
    tmp = folder / f".{name}.tmp"
    tmp.write_text(f"{command}\nexpires {time.time() + ttl_s:.3f}\n", encoding="utf-8")
    os.replace(tmp, folder / name)  # the trainer never sees a half-written command
    return folder / name


def withdraw(command_file: Path) -> bool:
    """Take back a command the trainer has not picked up; False when it already took it."""
    try:
        command_file.unlink()
    except FileNotFoundError:
        return False
    return True


def expired(command_file: Path, now: float | None = None) -> bool:
    """Is this command past its "expires" time? A file without one (older senders) never is."""
    try:
        lines = command_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        if key == "expires":
            try:
                return (time.time() if now is None else now) > float(value)
            except ValueError:
                return False
    return False


class CommandWatcher:
    """The trainer's side: a daemon thread that hands queued commands to a session
    (its pause/resume/stop/request_checkpoint, all safe to call from any thread)."""

    def __init__(self, run_dir: str | os.PathLike, session: Any,
                 on_command: Callable[[str], None] | None = None,
                 on_expired: Callable[[str], None] | None = None) -> None:
        self.folder = Path(run_dir, CONTROL)
        self.folder.mkdir(exist_ok=True)
        self._actions = {"pause": session.pause, "resume": session.resume, "stop": session.stop,
                         "checkpoint": session.request_checkpoint}
        self._on_command, self._on_expired = on_command, on_expired
        self._done = threading.Event()
        for old in self._pending():  # left by an earlier trainer: not meant for this one
            _unlink(old)
        self._thread = threading.Thread(target=self._loop, name="run-control", daemon=True)

    def start(self) -> CommandWatcher:
        self._thread.start()
        return self

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=1.0)

    def _pending(self) -> list[Path]:
        try:
            return sorted(p for p in self.folder.iterdir() if not p.name.startswith("."))
        except OSError:
            return []

    def _loop(self) -> None:
        while not self._done.wait(POLL_S):
            for path in self._pending():
                late = expired(path)
                _unlink(path)
                command = path.name.rsplit("-", 1)[-1]
                if late:
                    if self._on_expired is not None:
                        self._on_expired(command)
                    continue
                action = self._actions.get(command)
                if action is not None:
                    action()
                    if self._on_command is not None:
                        self._on_command(command)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
