"""`ionis-tui` without a command: read the settings, open the cockpit."""

from __future__ import annotations

import argparse
import sys

from engine.errors import SettingsError
from engine.settings import load_settings


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ionis-tui", description="Open the IONIS training cockpit.")
    p.add_argument("--config", metavar="PATH", help="settings file (default ./settings.toml)")
    p.add_argument("--attach", metavar="RUN_DIR",
                   help="show this live run (default: the newest live run on this host)")
    return p


def launch(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        # One clear message, no traceback: the user fixes a file, not our code.
        print(f"error: {exc}", file=sys.stderr)
        return 2

    # Textual and torch load only once settings are fine.
    from ionis_tui.app import IonisApp
    from ionis_tui.terminal import driver_class

    app = IonisApp(settings, attach=args.attach)
    app.driver_class = driver_class() or app.driver_class  # the screen survives fd 2 redirects
    result = app.run()
    # Runs train in their own process: quitting (detach) or a hangup leaves them training.
    return int(result or 0) if app.return_code in (None, 0) else int(app.return_code)
