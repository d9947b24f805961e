"""One training run's folder: settings.json, metrics.jsonl, state.json, last.pt, best.safetensors.

Every whole-file write is atomic (temp file + rename), so a killed process leaves the
previous version, never a torn one. metrics.jsonl is append-only, one line per epoch.
"""

from __future__ import annotations

import errno
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write, named, overwrite_in_place
from engine.errors import CheckpointError, InputError, SettingsError
from engine.settings import Settings, TrainSettings

SETTINGS, METRICS, STATE, LAST, BEST = ("settings.json", "metrics.jsonl", "state.json",
                                        "last.pt", "best.safetensors")
REDACTED = "***"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def settings_dump(settings: Settings) -> dict[str, Any]:
    data = settings.model_dump(mode="json")
    if data["database"].get("password"):
        data["database"]["password"] = REDACTED
    return data


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file, or None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every epoch line of metrics.jsonl; a torn line (killed mid-write) is skipped."""
    try:
        text = Path(run_dir, METRICS).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def load_run_settings(run_dir: str | os.PathLike) -> Settings:
    """The settings a run was started with (password redacted), to resume it with the same recipe."""
    path = Path(run_dir) / SETTINGS
    data = read_json(path)
    if data is None:
        raise CheckpointError(f"{path} is missing or unreadable, so the run's recipe is unknown")
    try:
        return Settings(**data)
    except Exception as exc:  # pydantic ValidationError: a hand-edited or foreign file
        raise SettingsError(f"{path} does not hold valid settings: {_first_problem(exc)}") from None


def _first_problem(exc: Exception) -> str:
    # pydantic's first line is only "1 validation error for Settings": name the key instead
    # (never the value: it may be a secret).
    errors = getattr(exc, "errors", None)
    if callable(errors):
        e = errors()[0]
        return f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
    return str(exc).splitlines()[0]


# Settings a resumed run takes from the caller; everything else comes from the run's own
# settings.json, so a resume can never silently change the recipe half-way.
RESUME_FROM_CALLER = ("epochs", "device", "progress_interval")


def _flat_train(tr: TrainSettings) -> dict[str, Any]:
    """[train] keys, with [train.experimental]'s as experimental.<key>."""
    d = tr.model_dump()
    ex = d.pop("experimental")
    return {**d, **{f"experimental.{k}": v for k, v in ex.items()}}


def resume_settings(run_dir: str | os.PathLike, given: Settings,
                    epochs: int | None = None) -> tuple[Settings, list[str]]:
    """Settings to resume run_dir with: the run's own training recipe and data sample (its
    settings.json), the caller's database/runs/device/progress settings, and `epochs` (None keeps
    the run's total). Plus one notice saying what was taken from the caller and which changed
    recipe keys are ignored. The CLI, the app and TrainingSession all merge through here."""
    saved = load_run_settings(run_dir).train
    upd: dict[str, Any] = {"device": given.train.device, "progress_interval": given.train.progress_interval,
                           "epochs": saved.epochs if epochs is None else epochs}
    mine, theirs = _flat_train(given.train), _flat_train(saved)
    changed = [k for k in mine if k not in RESUME_FROM_CALLER and mine[k] != theirs[k]]
    note = "resuming with the run's own recipe; taken from today's settings: " + ", ".join(
        f"{k}={upd[k]}" for k in RESUME_FROM_CALLER)
    if changed:
        note += f"; ignoring changed settings: {', '.join(changed)}"
    return given.model_copy(update={"train": saved.model_copy(update=upd)}), [note]


class RunFolder:
    def __init__(self, path: Path):
        self.path = path
        self.state: dict[str, Any] = read_json(path / STATE) or {}

    @property
    def run_id(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    @classmethod
    def create(cls, runs_dir: str | os.PathLike, feature_set: str) -> RunFolder:
        """runs_dir/<YYYYmmdd-HHMMSS-fs>, with -2, -3... if two runs start in the same second."""
        base = datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{feature_set}"
        root = Path(runs_dir)
        root.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            path = root / (base if n == 1 else f"{base}-{n}")
            try:
                path.mkdir()  # atomic: two sessions can never get the same folder
            except FileExistsError:
                continue
            return cls(path)
        raise InputError(f"cannot find a free run folder name under {root}")

    @classmethod
    def create_at(cls, path: str | os.PathLike) -> RunFolder:
        p = Path(path)
        # trainer.log may be there already: the app opens it for the trainer it starts.
        if p.exists() and (not p.is_dir() or any(c.name != "trainer.log" for c in p.iterdir())):
            raise InputError(f"run folder {p} already exists and is not empty: resume it with "
                             f"--resume {p}, or choose another folder")
        p.mkdir(parents=True, exist_ok=True)
        return cls(p)

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunFolder:
        p = Path(path)
        if not (p / LAST).is_file():
            raise CheckpointError(f"cannot resume {p}: it holds no {LAST} (not a run folder, or the "
                                  "run stopped before its first checkpoint)")
        return cls(p)

    def write_settings(self, settings: Settings) -> None:
        text = json.dumps(settings_dump(settings), indent=2) + "\n"
        atomic_write(self.file(SETTINGS), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    def update_state(self, **fields: Any) -> None:
        self.state.setdefault("created", now_iso())
        self.state.update(fields, updated=now_iso(), pid=os.getpid(), host=socket.gethostname())
        text = json.dumps(self.state, indent=2) + "\n"
        try:
            atomic_write(self.file(STATE), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        except OSError as exc:
            # A full disk has no room for the temp file; the state (above all: "failed", and
            # why) still fits in the blocks state.json holds.
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or not self.file(STATE).is_file():
                raise
            overwrite_in_place(self.file(STATE), text.encode("utf-8"))

    def append_metrics(self, line: dict[str, Any]) -> None:
        try:
            with open(self.file(METRICS), "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line, allow_nan=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise named(exc, self.file(METRICS)) if exc.filename is None else exc from None

    def keep_metrics_through(self, epoch: int) -> None:
        """Drop lines after `epoch` (written before a crash that beat the matching last.pt),
        so a resumed run's history has each epoch once."""
        path = self.file(METRICS)
        if not path.exists():
            return
        lines = read_metrics(self.path)
        kept = [m for m in lines if isinstance(m.get("epoch"), int) and m["epoch"] <= epoch]
        raw = path.read_text(encoding="utf-8")
        if len(kept) == len(lines) and raw.endswith("\n"):
            return
        text = "".join(json.dumps(m, allow_nan=False) + "\n" for m in kept)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
