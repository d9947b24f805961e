"""Entry point: `ionis-tui` opens the app; `ionis-tui <command>` runs the headless CLI."""

from __future__ import annotations

import sys

from engine.cli import COMMANDS


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in COMMANDS for a in argv) or any(a in ("-h", "--help") for a in argv):
        from engine.cli import main as cli_main

        return cli_main(argv)
    from ionis_tui.launch import launch

    return launch(argv)


if __name__ == "__main__":
    sys.exit(main())
