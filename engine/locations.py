"""Where ionis-tui keeps its files by default: the platform's user config and data folders
(platformdirs), so the app finds the same database and runs from any working directory.
IONIS_CONFIG_DIR / IONIS_DATA_DIR move them (the tests point both at temporary folders)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.settings import Settings

APP = "ionis-tui"


def config_dir() -> Path:
    """Holds the user's settings.toml (read when there is none in the current directory)."""
    env = os.environ.get("IONIS_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP, appauthor=False))


def data_dir() -> Path:
    """Holds the embedded database and the runs unless the settings name other places."""
    env = os.environ.get("IONIS_DATA_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP, appauthor=False))


def default_db_path() -> str:
    return str(data_dir() / "ionis.chdb")


def default_runs_dir() -> str:
    return str(data_dir() / "runs")


def short_path(path: str | os.PathLike) -> str:
    """A path as a shell prompt shows it: relative to the working folder when inside it, else
    ~/... under the home folder, else absolute. Unambiguous for the one who started the app,
    and its length does not depend on where the app (or a test) happens to run."""
    p = Path(path).expanduser().resolve()
    for base, prefix in ((Path.cwd().resolve(), ""), (Path.home().resolve(), "~/")):
        if base == Path(base.anchor):  # started in / (or HOME=/): everything would be "inside"
            continue
        try:
            rel = p.relative_to(base)
        except ValueError:
            continue
        return prefix + str(rel) if str(rel) != "." else (prefix.rstrip("/") or ".")
    return str(p)


def name_first(path: str | os.PathLike) -> str:
    """A file as short_path shows it, but when it lies outside the working folder its folder and
    name come first, so a line cut at the screen's edge still tells files apart:
    `20261203-101010-v22/best.safetensors in ~/.local/share/ionis-tui/runs`."""
    shown = short_path(path)
    p = Path(shown)
    if not (p.is_absolute() or shown.startswith("~/")) or len(p.parts) < 3:
        return shown
    return f"{p.parent.name}/{p.name} in {p.parent.parent}"


def paths_in_use(settings: Settings, short: bool = False) -> dict[str, str]:
    """The settings file, database and runs folder in use, for `data status` (absolute paths)
    and the help screen (short=True: as short_path shows them), so a user over SSH sees which
    database the app has opened."""
    db = settings.database
    file = settings.source_file
    show = short_path if short else (lambda p: str(Path(p).expanduser().resolve()))
    return {
        "settings": show(file) if file is not None else "none (built-in defaults)",
        "database": show(db.path) if db.mode == "embedded" else f"server {db.host}:{db.port}",
        "runs": show(settings.runs.dir),
    }
