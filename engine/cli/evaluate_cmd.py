"""`ionis-tui evaluate`: a model's skill on real observations against trivial baselines.

Exit status 0 on success, 2 on bad input (raised as IonisError, printed by the dispatcher)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from engine.errors import InputError, IonisError

if TYPE_CHECKING:
    from engine.settings import Settings

LEVELS = ("spots", "signatures")


def add_parser(sub) -> None:
    from engine.data.spot_formats import FORMAT_NAMES

    p = sub.add_parser("evaluate", help="skill on real spots against baselines",
                       description="Predict every real observation and compare the model with "
                                   "baselines: (a) band norm mean, (b) band and (c) band+hour "
                                   "climatology of the training table.")
    p.add_argument("--checkpoint", required=True, help=".safetensors or .pt file (ours or published)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--spots", metavar="FILE", nargs="+",
                     help="spot file(s) in any format `data ingest` reads, plain or .gz "
                          "(default [evaluate] spots)")
    src.add_argument("--table", metavar="NAME",
                     help="spots table (`data ingest`) or signature table in [database] "
                          "([db.]table)")
    p.add_argument("--format", default="auto", choices=FORMAT_NAMES,
                   help="spot file format (default: detected, as `data ingest`)")
    p.add_argument("--from", dest="from_", metavar="YYYY-MM",
                   help="first month (a signature table: months of the year)")
    p.add_argument("--to", metavar="YYYY-MM", help="last month")
    p.add_argument("--group", choices=LEVELS, help="report only this level (default: every level)")
    p.add_argument("--climatology", metavar="TABLE",
                   help="training table for baselines b/c (default [evaluate] climatology_table, "
                        "else database.table; 'none' to skip)")
    p.add_argument("--baseline", action="append", choices=("voacap",), default=[],
                   help="also compare with VOACAP (optional package: pip install 'ionis-tui[voacap]'; "
                        "about 40 ms per distinct path and hour)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--markdown", metavar="FILE", help="also write a Markdown report to FILE")
    p.set_defaults(run=run)


def climatology_for(settings: Settings, name: str | None):
    """The training table's climatology, or a one-line reason why baselines b/c are n/a."""
    from engine.evaluate.tables import climatology

    name = name if name is not None else (settings.evaluate.climatology_table or None)
    if name == "none":
        return "no training table given (--climatology none)"
    try:
        return climatology(settings.database, name)
    except IonisError as exc:
        return f"no training-table climatology: {exc}"


def source_args(args, settings: Settings) -> dict:
    spots = args.spots or (None if args.table else settings.evaluate.spots or None)
    table = args.table or (None if spots else settings.evaluate.table or None)
    if spots is None and table is None:
        raise InputError("no observations: give --spots FILE or --table NAME (or set [evaluate] "
                         "spots / table in settings)")
    return {"spots": spots, "table": table, "first": args.from_, "last": args.to,
            "fmt": args.format}


def run(args: argparse.Namespace, settings: Settings) -> int:
    from engine.checkpoint import load_model
    from engine.evaluate.observations import load_observations
    from engine.evaluate.report import to_json_text, to_text, write_report
    from engine.evaluate.run import evaluate

    src = source_args(args, settings)
    if "voacap" in args.baseline:
        try:
            import dvoacap  # noqa: F401  (checked before any slow work)
        except ImportError:
            raise InputError("--baseline voacap needs the optional package dvoacap: "
                             "pip install 'ionis-tui[voacap]'") from None
    obs = load_observations(settings, **src)  # a bad source fails before the model loads
    if args.group == "spots" and obs.level != "spots":
        raise InputError(f"--group spots needs spot-level data; {obs.source} is a signature "
                         f"table (signatures only)")
    lm = load_model(args.checkpoint)
    clim = climatology_for(settings, args.climatology)
    levels = (args.group,) if args.group else LEVELS
    ev = evaluate(lm, obs, clim, min_band_rows=settings.evaluate.min_band_rows, levels=levels,
                  voacap="voacap" in args.baseline)
    if args.markdown:
        write_report(ev.report, args.markdown)
    print(to_json_text(ev.report) if args.json else to_text(ev.report))
    if args.markdown:
        print(f"Markdown report: {args.markdown}", file=sys.stderr)
    return 0
