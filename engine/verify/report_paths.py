"""Where verification reports are written: beside the run, never into shared/."""

from __future__ import annotations

import time
from pathlib import Path


def newest_run_dir(runs_dir: str | Path) -> Path | None:
    root = Path(runs_dir)
    dirs = [d for d in root.iterdir() if d.is_dir() and d.name != "verify"] if root.is_dir() else []
    return max(dirs, key=lambda d: d.stat().st_mtime) if dirs else None


def report_paths(checkpoint: Path | None, runs_dir: str | Path, stamp: str | None = None,
                 run_id: str | None = None) -> tuple[Path, Path]:
    """Markdown and JSON paths. A run's checkpoint: beside it. The live model (checkpoint None):
    in its run's folder (run_id), else the newest run folder. A file outside the runs folder
    (a published one, whose folder is never written into): under <runs>/verify/."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    runs = Path(runs_dir).resolve()
    if checkpoint is not None and runs in Path(checkpoint).resolve().parents:
        folder, stem = Path(checkpoint).parent, Path(checkpoint).stem
    elif checkpoint is None:
        own = runs / run_id if run_id else None
        folder = own if own is not None and own.is_dir() else (newest_run_dir(runs) or runs / "verify")
        stem = "live"
    else:
        folder, stem = runs / "verify", Path(checkpoint).stem
    base = folder / f"verify-{stem}-{stamp}"
    return base.with_suffix(".md"), base.with_suffix(".json")
