"""`ionis-tui data import [FILE]`: make the published IONIS signature bundle (SQLite) the
content of the signature table (engine.data.bundle_import)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic is loaded only once a command runs
    from engine.settings import DatabaseSettings, Settings


# Same name as engine.data.bundle_file.BUNDLE_FILE (a test checks); importing that module for
# --help would load the settings machinery.
BUNDLE_FILE = "wspr_signatures_v2.sqlite"


def add_import_parser(dsub) -> None:
    p = dsub.add_parser(
        "import", help=f"import the published IONIS signature bundle ({BUNDLE_FILE})",
        description="Read the original's WSPR signature table from its published SQLite "
                    "bundle (ClickHouse reads the file itself), keep out rows the trainer must "
                    "not see (counted by reason) and swap the result in as the configured "
                    "table. Nothing is downloaded: get the file with `ionis-download` (PyPI "
                    "package ionis-mcp).")
    p.add_argument("file", nargs="?", metavar="FILE",
                   help="the SQLite bundle (default: where ionis-download puts it, "
                        "$IONIS_DATA_DIR or ~/.ionis-mcp/data, propagation/wspr-signatures/)")
    p.add_argument("--from-table", metavar="NAME",
                   help="table inside the file (default: the one with the signature columns)")
    p.add_argument("--table", metavar="NAME",
                   help="target table in database.database (default database.table)")
    p.add_argument("--force", action="store_true",
                   help="replace a table holding rows that neither `data seed` nor "
                        "`data import` wrote")
    p.add_argument("--streams", type=int, metavar="N",
                   help="parallel readers of the file (default: CPU cores, at most 4)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(run=run_import)


def _target(db: DatabaseSettings, table: str | None) -> DatabaseSettings:
    if table is None:
        return db
    from pydantic import ValidationError

    from engine.errors import InputError

    try:
        return type(db)(**{**db.model_dump(), "table": table})
    except ValidationError:
        raise InputError(f"--table {table!r} is not a plain table name "
                         f"(letters, digits, underscores)") from None


def _progress_printer():
    tty = sys.stderr.isatty()
    state = {"last": 0.0, "t0": time.monotonic()}

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - state["last"] < (0.5 if tty else 5.0):
            return
        state["last"] = now
        rate = done / max(now - state["t0"], 1e-9)
        eta = f"{(total - done) / rate:,.0f} s" if rate > 0 else "-"
        pct = 100.0 * done / total if total else 100.0
        end = "\r" if tty and done < total else "\n"
        print(f"importing {done:,} of ~{total:,} rows ({pct:5.1f}%), {rate:,.0f} rows/s, "
              f"ETA {eta}   ", end=end, file=sys.stderr, flush=True)

    return show


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    from engine.cli.data_real_cmd import late_note
    from engine.cli.interrupts import on_first_ctrl_c
    from engine.data.bundle_file import default_bundle_path, inspect_bundle
    from engine.data.bundle_import import ImportCancelled, import_bundle
    from engine.data.client import connect, where
    from engine.data.swap import CommitWindow
    from engine.errors import InputError

    db = _target(settings.database, args.table)
    if args.streams is not None and args.streams < 1:
        raise InputError(f"--streams must be >= 1, got {args.streams}")
    path = args.file or default_bundle_path()
    if args.file is None and not default_bundle_path().is_file():
        raise InputError(f"no FILE given and no bundle at {path}; get it with `ionis-download` "
                         f"(PyPI package ionis-mcp) or give its path")
    info = inspect_bundle(path, args.from_table)
    print(f"importing {info.path} (table {info.table}, {info.size / 1e9:.2f} GB, "
          f"~{info.rowid_span:,} rows) into {db.database}.{db.table} ({where(db)})",
          file=sys.stderr)
    stop = threading.Event()

    def on_sigint(signum, frame):
        # First Ctrl-C: stop after the running chunk, drop the staging table, keep the old
        # one. A second one falls through to the default handler. Once the swap has begun
        # (engine.data.swap holds Ctrl-C there) it is too late: the outcome is reported.
        print("\nstopping the import after the current chunk", file=sys.stderr, flush=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stop.set()

    restore_sigint = on_first_ctrl_c(on_sigint)
    try:
        with CommitWindow() as window:  # a Ctrl-C once the swap began: reported, not obeyed
            report = import_bundle(connect(db), db, info, progress=_progress_printer(),
                                   cancel=stop.is_set, force=args.force, streams=args.streams)
            _print_import(report, args.json)
            late_note(window, report.table)
    except ImportCancelled as exc:
        print(f"interrupted: {exc}", file=sys.stderr)
        return 130
    finally:
        restore_sigint()
    return 0


def _print_import(report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_dict()))
        return
    d = report.as_dict()
    print(f"imported {d['rows']:,} of {d['read']:,} rows into {d['table']} in "
          f"{d['seconds']:.1f} s ({d['rows_per_s']:,.0f} rows/s)")
    excluded = {k: v for k, v in report.excluded.items() if v}
    if excluded:
        print("excluded " + ", ".join(f"{k} {v:,}" for k, v in excluded.items()))
