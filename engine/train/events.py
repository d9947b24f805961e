"""Events a training session reports to its client (CLI or TUI), in order.

All are plain frozen dataclasses, safe to hand across threads. A client gets them through
the on_event callback, which runs in the training thread and must return quickly
(the TUI turns each into a Textual message with post_message, which never blocks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class SessionState(StrEnum):
    """Session states, in the order a normal run passes through them. A StrEnum: each equals
    its plain string, as written to state.json and compared by older code."""

    IDLE = "idle"
    LOADING = "loading"
    TRAINING = "training"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"
    FAILED = "failed"


IDLE, LOADING, TRAINING, PAUSED, STOPPED, FINISHED, FAILED = SessionState
STATES = tuple(SessionState)


@dataclass(frozen=True)
class StateChanged:
    state: str
    reason: str = ""


@dataclass(frozen=True)
class LoadProgress:
    rows_done: int
    rows_total: int  # 0 when unknown


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    run_dir: str
    device: str
    rows_train: int
    rows_val: int
    epochs: int
    start_epoch: int          # 1-based epoch the loop starts at (> 1 when resumed)
    params: int
    data_source: str          # e.g. "embedded wspr.signatures_v2_terrestrial"


@dataclass(frozen=True)
class StepProgress:
    epoch: int
    step: int
    steps: int
    running_loss: float       # mean weighted Huber loss so far this epoch
    samples_per_s: float
    elapsed_s: float          # since the run started


@dataclass(frozen=True)
class EpochEnd:
    metrics: dict[str, Any]   # exactly the line written to metrics.jsonl


@dataclass(frozen=True)
class CheckpointSaved:
    path: str
    kind: str                 # "last", "best" or "manual"
    epoch: int


@dataclass(frozen=True)
class Notice:
    level: str                # "info", "warning" or "error"
    text: str


@dataclass(frozen=True)
class RunEnded:
    state: str                # STOPPED, FINISHED or FAILED
    message: str = ""
    best: dict[str, Any] = field(default_factory=dict)


Event = StateChanged | LoadProgress | RunStarted | StepProgress | EpochEnd | CheckpointSaved | Notice | RunEnded
