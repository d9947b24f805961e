"""The app's `i` action: import the published IONIS signature bundle from where
`ionis-download` puts it, as a plain blocking function for a thread worker. Like
ionis_tui.datasource, it never raises for bad input or a database problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.message import Message

from engine.errors import IonisError
from engine.settings import DatabaseSettings
from ionis_tui.dashboard_state import DataSource


class ImportDone(Message):
    """What the import did, or why it failed (posted before the DataChecked that follows)."""

    def __init__(self, line: str, ok: bool) -> None:
        super().__init__()
        self.line = line
        self.ok = ok


def bundle_path() -> Path:
    from engine.data.bundle_file import default_bundle_path

    return default_bundle_path()


def run_import(db: DatabaseSettings, path: Path,
               progress: Callable[[int, int], None] | None = None,
               cancel: Callable[[], bool] | None = None) -> tuple[DataSource, str, bool]:
    """Import, then check the database again. Returns (the check's outcome, one line on what
    the import did or why it failed, whether it worked): a failed or cancelled import left
    the old table as it was, so the panel shows that table's state, not an error."""
    from engine.data.bundle_file import inspect_bundle
    from engine.data.bundle_import import bundle_lines, import_bundle
    from engine.data.client import connect
    from ionis_tui import datasource

    try:
        info = inspect_bundle(path)
        report = import_bundle(connect(db), db, info, progress=progress, cancel=cancel)
    except IonisError as exc:
        return datasource.check(db), f"import failed: {exc}", False
    meta = {**report.as_dict(), "written_at": "now", "file": str(info.path)}
    return datasource.check(db), "; ".join(bundle_lines(meta)), True
