"""Where a model to explore comes from: newest run's best weights, or the published V22 file."""

from __future__ import annotations

from pathlib import Path

from engine.settings import Settings

PUBLISHED_V22 = "ionis_v22_gamma.safetensors"
CHECKPOINT_SUFFIXES = (".safetensors", ".pt")


def reference_dirs() -> list[Path]:
    """../shared/reference seen from the repository (where the package sits in a checkout) and
    from the working directory; the first existing wins."""
    repo = Path(__file__).resolve().parents[2]
    cands = [repo.parent / "shared" / "reference", Path.cwd().resolve().parent / "shared" / "reference"]
    seen, out = set(), []
    for c in cands:
        if c not in seen and c.is_dir():
            seen.add(c)
            out.append(c)
    return out


def published_v22() -> Path | None:
    for d in reference_dirs():
        if (d / PUBLISHED_V22).is_file():
            return d / PUBLISHED_V22
    return None


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def newest_best(settings: Settings) -> Path | None:
    """The most recently written best.safetensors under the runs folder."""
    root = Path(settings.runs.dir)
    if not root.is_dir():
        return None
    found = sorted(root.rglob("best.safetensors"), key=_mtime, reverse=True)
    return found[0] if found else None


def default_checkpoint(settings: Settings, checkpoint: Path | None = None) -> Path | None:
    """The explicit checkpoint, else the newest run's best, else the published V22, else None."""
    if checkpoint is not None:
        return Path(checkpoint)
    return newest_best(settings) or published_v22()


def list_checkpoints(settings: Settings, limit: int = 50) -> list[Path]:
    """Checkpoints a user may pick: run files newest first, then the published references."""
    out: list[Path] = []
    root = Path(settings.runs.dir)
    if root.is_dir():
        files = [p for p in root.rglob("*") if p.suffix in CHECKPOINT_SUFFIXES and p.is_file()
                 and not p.name.startswith(".")]   # skip atomic-write temp files
        out.extend(sorted(files, key=_mtime, reverse=True)[:limit])
    for d in reference_dirs():
        out.extend(sorted(d.glob("*.safetensors")))
    return out
