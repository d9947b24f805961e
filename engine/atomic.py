"""Atomic file writes (write a temp file, fsync, rename, fsync the folder), without torch:
run folders, reports and checkpoints all write through here."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from engine.process import pid_alive


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call write(tmp_path) then rename over path, so readers see the old or the new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_tmp(path.parent)
    # The writer's pid in the name tells a later writer whether this temp file is orphaned.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename2 is None and exc.filename in (None, tmp):
            # A write into the temp file (a full disk) names no file, or names the temp file:
            # the file the user knows is the target.
            raise named(exc, path) from None
        raise
    _fsync_dir(path.parent)
    return path


def named(exc: OSError, path: str | os.PathLike) -> OSError:
    """The same error, naming `path` (file writes report ENOSPC without a file name)."""
    return type(exc)(exc.errno, exc.strerror or str(exc), str(path))


def overwrite_in_place(path: str | os.PathLike, data: bytes) -> None:
    """Last resort when a full disk refuses the temp file of an atomic write: rewrite the
    existing small file within the blocks it already holds. Not atomic; used only to record
    that a run failed, which is worth more than keeping the stale content."""
    with open(path, "r+b") as fh:
        fh.write(data)
        fh.truncate(len(data))
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable: without this a power cut can bring back the old name."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a folder; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

def clean_stale_tmp(folder: Path, old_s: float = 3600.0) -> None:
    """Remove temp files of atomic writes whose writer died (kill -9, power cut): its pid is
    gone, or, for names without a pid, the file is older than old_s. Best effort."""
    import time

    for f in folder.glob(".*.tmp"):
        parts = f.name.split(".")
        pid = parts[-3] if len(parts) >= 5 else ""
        try:
            if pid.isdigit():
                if pid_alive(int(pid)):
                    continue
            elif time.time() - f.stat().st_mtime < old_s:
                continue
            f.unlink()
        except OSError:
            continue
