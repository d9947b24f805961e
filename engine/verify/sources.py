"""Which model to verify and where its reports go: run checkpoints, published files, live."""

from __future__ import annotations

import time
from pathlib import Path

PUBLISHED_V22 = "ionis_v22_gamma.safetensors"


def published_dir() -> Path | None:
    """../shared/reference beside the working directory or beside the source checkout."""
    for base in (Path.cwd().parent, Path(__file__).resolve().parents[2].parent):
        d = base / "shared" / "reference"
        if d.is_dir():
            return d
    return None


def run_checkpoints(runs_dir: str | Path) -> list[Path]:
    """best.safetensors / last.pt / *.safetensors under the runs folder, newest first."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    found = {p for pat in ("*/best.safetensors", "*/last.pt", "*/*.safetensors", "*.safetensors")
             for p in root.glob(pat) if p.is_file()}
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def published_checkpoints() -> list[Path]:
    d = published_dir()
    return sorted(d.glob("*.safetensors")) if d else []


def candidates(runs_dir: str | Path) -> list[Path]:
    return run_checkpoints(runs_dir) + published_checkpoints()


def default_checkpoint(runs_dir: str | Path) -> Path | None:
    """The newest run's best.safetensors, else the published V22, else None."""
    best = [p for p in run_checkpoints(runs_dir) if p.name == "best.safetensors"]
    if best:
        return best[0]
    d = published_dir()
    if d and (d / PUBLISHED_V22).is_file():
        return d / PUBLISHED_V22
    return None


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
