"""Entry point: `ionis-tui` opens the app; `ionis-tui <command>` runs the headless CLI."""

from __future__ import annotations

import sys

from engine.cli import requested_command


def _wants_cli(argv: list[str]) -> bool:
    return requested_command(argv) is not None or any(a in ("-h", "--help") for a in argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if _wants_cli(argv):
        from engine.cli import main as cli_main

        return cli_main(argv)
    from ionis_tui.launch import launch

    return launch(argv)


if __name__ == "__main__":
    sys.exit(main())
