"""Headless command line: `ionis-tui <command> ...`. Each command lives in its own module
exposing add_parser(subparsers) and run(args, settings) -> exit status."""

from __future__ import annotations

import argparse
import importlib
import sys

from engine.errors import IonisError
from engine.settings import load_settings

# command name -> module; modules are imported only when their command runs, so
# `ionis-tui predict` does not pay for the database client or Textual.
COMMANDS = {
    "data": "engine.cli.data_cmd",
    "train": "engine.cli.train_cmd",
    "predict": "engine.cli.predict_cmd",
    "verify": "engine.cli.verify_cmd",
    "matrix": "engine.cli.matrix_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ionis-tui",
        description="Train and verify IONIS HF propagation models. Without a command, opens the app.",
    )
    parser.add_argument("--config", metavar="PATH", help="settings file (default ./settings.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, modname in COMMANDS.items():
        importlib.import_module(modname).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        settings = load_settings(args.config)
        return int(args.run(args, settings) or 0)
    except IonisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
