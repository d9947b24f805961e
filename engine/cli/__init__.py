"""Headless command line: `ionis-tui <command> ...`. Each command lives in its own module
exposing add_parser(subparsers) and run(args, settings) -> exit status."""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from engine.errors import IonisError

# command name -> module; modules are imported only when their command runs, so
# `ionis-tui predict` does not pay for the database client or Textual.
COMMANDS = {
    "data": "engine.cli.data_cmd",
    "train": "engine.cli.train_cmd",
    "predict": "engine.cli.predict_cmd",
    "verify": "engine.cli.verify_cmd",
    "matrix": "engine.cli.matrix_cmd",
    "evaluate": "engine.cli.evaluate_cmd",
    "export": "engine.cli.export_cmd",

    "runs": "engine.cli.runs_cmd",
}


_NEGATIVE = re.compile(r"^-\d")


def _join_negative_values(argv: list[str]) -> list[str]:
    """argparse takes "-33.87,151.21" for an option; glue such values to their option so
    southern/western coordinates work as typed: --tx -33.87,151.21 -> --tx=-33.87,151.21."""
    out: list[str] = []
    for tok in argv:
        if out and _NEGATIVE.match(tok) and out[-1].startswith("--") and "=" not in out[-1]:
            out[-1] = f"{out[-1]}={tok}"
        else:
            out.append(tok)
    return out


def requested_command(argv: list[str]) -> str | None:
    """The subcommand argv names (after any --config), or None for the app itself."""
    rest = list(argv)
    while rest[:1] == ["--config"]:
        rest = rest[2:]
    rest = [a for a in rest if not a.startswith("--config=")]
    return rest[0] if rest and rest[0] in COMMANDS else None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ionis-tui",
        description="Train and verify IONIS HF propagation models. Without a command, opens the app.",
    )
    parser.add_argument("--config", metavar="PATH", help="settings file (default ./settings.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, modname in COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(modname).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser(requested_command(argv))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        from engine.settings import load_settings  # pydantic: not needed for --help

        settings = load_settings(args.config)
        return int(args.run(args, settings) or 0)
    except IonisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` that has closed: not an error of ours. Point stdout at
        # /dev/null so the interpreter's final flush does not print a traceback either.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports it
    except OSError as exc:  # a file or folder the command needs: one line, not a traceback
        from engine.errors import describe_os_error

        print(f"error: {describe_os_error(exc)}", file=sys.stderr)
        return 2
