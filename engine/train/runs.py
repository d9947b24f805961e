"""The runs list: cheap to build (reads state.json, not checkpoints) and robust to broken folders."""

from __future__ import annotations

import math
import os
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.process import pid_alive
from engine.train.events import FINISHED, IDLE, LOADING, PAUSED, TRAINING
from engine.train.rundir import LAST, METRICS, SETTINGS, STATE, read_json, read_metrics  # noqa: F401 (re-exported)

INTERRUPTED = "interrupted"   # said "running" but its process is gone (killed, crashed, power cut)
STALLED = "stalled"           # its process is there but has made no progress for stall_after_s
UNKNOWN = "unknown"           # no readable state.json
_ID_TIME = re.compile(r"^(\d{8}-\d{6})")
# The one definition of a live run: a trainer process holds it and may still change it (from
# opening the folder, IDLE, until it ends; a stalled one may wake up). The app, `runs` and the
# runs list all ask is_live().
LIVE_STATES = (IDLE, LOADING, TRAINING, PAUSED, STALLED)
DEFAULT_STALL_S = 60.0        # for runs whose state.json predates stall_after_s


def is_live(state: str) -> bool:
    """Is a run in this state (as run_state() or the trainer's events report it) being
    trained now? Ended, interrupted and unknown runs are not."""
    return state in LIVE_STATES


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    path: Path
    created: datetime
    state: str
    epochs_done: int
    epochs_total: int
    best_val_pearson: float | None
    best_val_rmse_db: float | None
    resumable: bool
    pid: int | None = None     # the process that last wrote state.json (the trainer)
    host: str = ""
    data_kind: str = ""        # provenance kind of the data the current phase trains on ("" unknown)
    data_table: str = ""       # qualified table name ("" for a rows file or unknown)
    data_rows: int | None = None
    data_name: str = ""        # "demo ionis.signatures", "file rows.npy" (DataIdentity.label)
    phase: int = 1             # > 1 after a resume forced onto changed data (engine.train.data_identity)
    phases: tuple[dict[str, Any], ...] = ()

    @property
    def data_label(self) -> str:
        """"demo ionis.signatures", "spots db.t, phase 2", "-" when the run recorded nothing."""
        return (self.data_name or "-") + (f", phase {self.phase}" if self.phase > 1 else "")


def _alive(state: dict[str, Any], path: Path) -> bool:
    """Is the process that wrote this state still running (on this host)?"""
    pid, host = state.get("pid"), state.get("host")
    if not isinstance(pid, int) or host != socket.gethostname():
        return True  # another machine, or no record: no evidence that it died
    from engine.train.lock import is_held

    held = is_held(path)  # the trainer's flock: gone with its process, whatever its pid became
    if held is not None:
        return held
    return pid_alive(pid)


def _stalled(state: dict[str, Any], path: Path) -> bool:
    """Has the live trainer not moved for longer than its stall_after_s (engine.train.heartbeat)?"""
    from engine.train.heartbeat import age

    quiet = age(path)
    limit = _num(state.get("stall_after_s")) or DEFAULT_STALL_S
    return quiet is not None and quiet > limit


def _created(path: Path, state: dict[str, Any]) -> datetime:
    try:
        dt = datetime.fromisoformat(state["created"])
        return dt if dt.tzinfo else dt.astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        pass
    m = _ID_TIME.match(path.name)
    if m:
        return datetime.strptime(m.group(1), "%Y%m%d-%H%M%S").astimezone(UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def _int(v: Any) -> int:
    return int(v) if isinstance(v, int | float) and math.isfinite(v) else 0


def run_state(path: Path, st: dict[str, Any] | None) -> str:
    """The one rule for a run's state, from its folder: what its state.json (`st`, already
    read, or None) says, except that a live state whose trainer process is gone is
    INTERRUPTED, one whose trainer has not moved for its stall_after_s is STALLED, and a
    folder without a readable state.json is UNKNOWN."""
    state = str(st.get("state", UNKNOWN)) if st else UNKNOWN
    if is_live(state) and not _alive(st or {}, path):
        return INTERRUPTED
    if is_live(state) and _stalled(st or {}, path):
        return STALLED
    return state


def run_info(path: Path) -> RunInfo | None:
    """None for a folder that is not a run at all."""
    if not any((path / f).exists() for f in (STATE, SETTINGS, METRICS, LAST)):
        return None
    st = read_json(path / STATE)
    state = run_state(path, st)
    st = st or {}
    done, total = _int(st.get("epochs_done")), _int(st.get("epochs_total"))
    pearson, rmse = _num(st.get("best_val_pearson")), _num(st.get("best_val_rmse_db"))
    if not st:  # fall back on the metrics history
        lines = [m for m in read_metrics(path) if _num(m.get("val_loss")) is not None]
        if lines:
            best = min(lines, key=lambda m: m["val_loss"])
            done, total = _int(lines[-1].get("epoch")), _int(lines[-1].get("epochs"))
            pearson, rmse = _num(best.get("val_pearson")), _num(best.get("val_rmse_db"))
    has_last = (path / LAST).is_file() and (path / LAST).stat().st_size > 0
    resumable = has_last and not is_live(state) and state != FINISHED
    pid = st.get("pid") if isinstance(st.get("pid"), int) else None
    return RunInfo(path.name, path, _created(path, st), state, done, total, pearson, rmse, resumable,
                   pid, str(st.get("host", "")), **_data(st))


def _data(st: dict[str, Any]) -> dict[str, Any]:
    from engine.train.data_identity import DataIdentity

    d = DataIdentity.from_dict(st)
    phases = st.get("phases") if isinstance(st.get("phases"), list) else []
    return {"data_kind": d.kind if d else "", "data_table": d.table if d else "",
            "data_rows": d.rows if d else None, "data_name": d.label if d else "", "phase": _int(st.get("phase")) or 1,
            "phases": tuple(p for p in phases if isinstance(p, dict))}


def list_runs(runs_dir: str | os.PathLike) -> list[RunInfo]:
    """Runs under runs_dir, newest first. Unreadable entries are skipped, never fatal; an
    unreadable runs folder itself is a StorageError (it is not the same as "no runs yet")."""
    root = Path(runs_dir)
    try:
        children = [p for p in root.iterdir() if p.is_dir()]
    except FileNotFoundError:
        return []
    except OSError as exc:
        from engine.errors import StorageError, describe_os_error

        raise StorageError(describe_os_error(exc)) from None
    out = []
    for p in children:
        try:
            info = run_info(p)
        except OSError:
            continue
        if info is not None:
            out.append(info)
    return sorted(out, key=lambda r: (r.created, r.run_id), reverse=True)
