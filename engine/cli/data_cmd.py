"""`ionis-tui data seed|status|ingest|sw|build|import`: demo signatures, the configured table's
state, and the real-data path (spot files -> spots table -> signatures)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from engine.limits import SFI_RANGE

if TYPE_CHECKING:  # pydantic is loaded only once a command runs
    from engine.settings import Settings


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="demo data, real spots, signature build, database status",
                       description="Seed demo signatures, ingest WSPR spot files, build "
                                   "signatures from them, or show what the tables hold.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    s = dsub.add_parser("seed", help="write demo signatures (simulated from a physical truth)",
                        description="Generate demo signatures from real SFI/Kp days and a "
                                    "documented ground truth, and make them the content of "
                                    "the configured table (replaces earlier demo data).")
    s.add_argument("--rows", type=int, help="signatures to write (default demo.rows)")
    s.add_argument("--seed", type=int, help="random seed (default demo.seed)")
    s.add_argument("--force", action="store_true",
                   help="replace the table even if it holds rows `data seed` did not write")
    s.set_defaults(run=run_seed)
    st = dsub.add_parser("status", help="mode, table, row count, newest data, SFI/Kp ranges")
    st.add_argument("--json", action="store_true", help="print one JSON object")
    st.set_defaults(run=run_status)
    from engine.cli.data_real_cmd import add_real_parsers
    add_real_parsers(dsub)

    from engine.cli.import_cmd import add_import_parser

    add_import_parser(dsub)


def _progress_printer(label: str):
    tty = sys.stderr.isatty()
    state = {"last": 0.0}

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - state["last"] < (0.2 if tty else 2.0):
            return
        state["last"] = now
        pct = 100.0 * done / total if total else 100.0
        end = "\r" if tty and done < total else "\n"
        print(f"{label} {pct:5.1f}%", end=end, file=sys.stderr, flush=True)

    return show


def run_seed(args: argparse.Namespace, settings: Settings) -> int:
    from engine.data.aggregation import rules_line
    from engine.data.client import connect, where
    from engine.demo.seed import seed_demo, seed_rules
    from engine.errors import InputError
    from engine.limits import MAX_DEMO_ROWS

    db = settings.database
    rows = settings.demo.rows if args.rows is None else args.rows
    seed = settings.demo.seed if args.seed is None else args.seed
    if rows < 1:
        raise InputError(f"--rows must be >= 1, got {rows}")
    if rows > MAX_DEMO_ROWS:  # the same limit as the demo.rows setting
        raise InputError(f"--rows must be at most {MAX_DEMO_ROWS:,} (as demo.rows), got {rows:,}")
    if seed < 0:
        raise InputError(f"--seed must be >= 0, got {seed}")
    print(f"seeding {rows:,} demo signatures (seed {seed}) into {db.database}.{db.table} "
          f"({where(db)})", file=sys.stderr)
    t0 = time.perf_counter()
    from engine.cli.data_real_cmd import late_note
    from engine.data.swap import CommitWindow

    client = connect(db)
    min_spots = settings.ingest.min_spots
    with CommitWindow() as window:  # from the swap on, a Ctrl-C is reported, not obeyed
        n = seed_demo(client, db, rows, seed, progress=_progress_printer("seeding"),
                      force=args.force, min_spots=min_spots)
        dt = time.perf_counter() - t0
        print(f"wrote {n:,} signatures to {db.database}.{db.table} in {dt:.1f} s "
              f"({n / dt:,.0f} rows/s)")
        r = seed_rules(min_spots)
        print(rules_line(r))
        print("demo spot filters: " + "; ".join(f"{k}: {v}" for k, v in r["filters"].items()))
        late_note(window, f"{db.database}.{db.table}")
    return 0


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    from engine.data.client import connect
    from engine.data.status import overview
    from engine.locations import paths_in_use

    db, ing = settings.database, settings.ingest
    st = overview(connect(db), db, ing.spots_table, ing.sw_table)
    st["paths"] = paths_in_use(settings)
    if getattr(args, "json", False):
        print(json.dumps(st))
        return 0
    if st["spots_table"]:
        _print_spots(st["spots_table"])
    else:
        sw = st["space_weather"]
        print(f"spots table {db.database}.{ing.spots_table}: missing (`ionis-tui data ingest FILE`)")
        print("space wx    " + (f"{sw['first_day']} .. {sw['last_day']} ({sw['days']:,} observed "
                                f"days)" if sw else "missing (`ionis-tui data sw`)") + "\n")
    print(f"mode        {st['mode']}  ({st['where']})")
    print(f"table       {st['table']}")
    if st["signatures"] == "missing":
        print(f"signatures  missing: {st['signatures_hint']}")
    else:
        _print_signatures(st)
    for table, h in st["writers"].items():
        print(f"writing     {table}: `{h.get('command', '?')}` (pid {h.get('pid', '?')} on "
              f"{h.get('host', '?')}, since {h.get('since', '?')})")
    for name, path in st["paths"].items():
        print(f"{name:<11} {path}")
    return 0


def _print_signatures(st: dict) -> None:
    print(f"rows        {st['row_count']:,}  (usable {st['usable_rows']:,}, without SFI "
          f"{st['rows_without_sfi']:,}, malformed {st['malformed_rows']:,})")
    if st["malformed_reasons"]:
        print("malformed   " + ", ".join(f"{k} {v:,}" for k, v in st["malformed_reasons"].items()))
    print(f"spots       {st['spots']:,}")
    if st["usable_rows"]:
        lo, hi = SFI_RANGE
        print(f"SFI         {st['sfi_min']:g} .. {st['sfi_max']:g}"
              + (f" (above {hi:g}: trained on as observed; predict, matrix and verify accept "
                 f"{lo:g}..{hi:g}, the model's documented range)" if st["sfi_max"] > hi else ""))
        print(f"Kp          {st['kp_min']:g} .. {st['kp_max']:g}")
        print(f"months      {st['months_present']} of 12")
        print("bands       " + "  ".join(f"{k} {v:,}" for k, v in st["band_rows"].items()))
    newest = st["newest_data"] or "unknown"
    print(f"newest data {newest}  ({st['newest_data_note']})")
    _print_provenance(st)
    if st.get("bundle"):
        from engine.data.bundle_import import bundle_lines

        print("\n".join(f"source      {ln}" for ln in bundle_lines(st["bundle"])))


def _print_provenance(st: dict) -> None:
    prov = st.get("provenance")
    if st["demo"]:
        d = st["demo"]
        print(f"demo        seed {d['seed']}, {d['rows']:,} rows, written {d['written_at']}, "
              f"space weather {d['space_weather_first_day']} .. {d['space_weather_last_day']}")
    elif prov:
        params = prov["params"]
        details = ", ".join(f"{k} {v}" for k, v in params.items()
                            if v is not None and k != "rules")
        print(f"provenance  {prov['kind']}: {details}")
        if isinstance(params.get("rules"), dict):
            from engine.data.aggregation import rules_line

            print(f"            {rules_line(params['rules'])}")
    else:
        print("provenance  unknown (not written by data seed, build or import)")


def _print_spots(sp: dict) -> None:
    print(f"spots table {sp['table']}: {sp['rows']:,} spots, {sp['first']} .. {sp['last']}, "
          f"{sp['tx_stations']:,} TX / {sp['rx_stations']:,} RX stations")
    if sp["bands"]:
        print("spot bands  " + "  ".join(f"{k} {v:,}" for k, v in sp["bands"].items()))
    sw = sp["space_weather"]
    print("space wx    " + (f"{sw['first_day']} .. {sw['last_day']} ({sw['days']:,} observed days)"
                            if sw else "none yet (`ionis-tui data sw`)"))
    print()
