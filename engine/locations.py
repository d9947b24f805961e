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


def paths_in_use(settings: Settings) -> dict[str, str]:
    """The settings file, database and runs folder in use, as absolute paths, for `data status`
    and the help screen (so a user over SSH sees which database the app has opened)."""
    db = settings.database
    file = settings.source_file
    return {
        "settings": str(file.resolve()) if file is not None else "none (built-in defaults)",
        "database": (str(Path(db.path).expanduser().resolve()) if db.mode == "embedded"
                     else f"server {db.host}:{db.port}"),
        "runs": str(Path(settings.runs.dir).expanduser().resolve()),
    }
