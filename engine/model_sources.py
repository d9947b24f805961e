"""Where a model to verify or explore comes from: run checkpoints and the published IONIS files."""

from __future__ import annotations

from pathlib import Path

PUBLISHED_V22 = "ionis_v22_gamma.safetensors"
# What a screen says when no model is found: no run has a best checkpoint and no published one.
NO_MODEL = ("no model found: press o to choose a checkpoint, train one (s on the dashboard), or "
            "`pip install ionis-validate` for the published V22-gamma")
CHECKPOINT_SUFFIXES = (".safetensors", ".pt")


def published_dir() -> Path | None:
    """../shared/reference beside the source checkout or beside the working directory, else the
    data folder of an installed ionis-validate: the peer's own package ships V22-gamma with its
    config and meta, so `pip install ionis-validate` is how a user without ../shared gets it."""
    for base in (Path(__file__).resolve().parents[1].parent, Path.cwd().resolve().parent):
        d = base / "shared" / "reference"
        if d.is_dir():
            return d
    return _installed_peer_data()


def _installed_peer_data() -> Path | None:
    import importlib.util

    try:  # finds the package without importing it (its __init__ would import torch)
        spec = importlib.util.find_spec("ionis_validate")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    d = Path(spec.origin).parent / "data"
    return d if (d / PUBLISHED_V22).is_file() else None


def published_v22() -> Path | None:
    d = published_dir()
    return d / PUBLISHED_V22 if d is not None and (d / PUBLISHED_V22).is_file() else None


def published_checkpoints() -> list[Path]:
    d = published_dir()
    return sorted(d.glob("*.safetensors")) if d else []


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def run_checkpoints(runs_dir: str | Path) -> list[Path]:
    """Checkpoint files under the runs folder, newest first (atomic-write temp files skipped)."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.rglob("*") if p.suffix in CHECKPOINT_SUFFIXES and p.is_file()
             and not p.name.startswith(".")]
    return sorted(found, key=_mtime, reverse=True)


def newest_best(runs_dir: str | Path) -> Path | None:
    return next((p for p in run_checkpoints(runs_dir) if p.name == "best.safetensors"), None)


def list_checkpoints(runs_dir: str | Path, limit: int = 50) -> list[Path]:
    """What a user may pick: run files newest first, then the published references."""
    return run_checkpoints(runs_dir)[:limit] + published_checkpoints()


def default_checkpoint(runs_dir: str | Path, checkpoint: str | Path | None = None) -> Path | None:
    """The explicit checkpoint, else the newest run's best, else the published V22, else None."""
    if checkpoint is not None:
        return Path(checkpoint)
    return newest_best(runs_dir) or published_v22()
