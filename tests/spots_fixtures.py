"""The one home of the synthetic spot fixtures (tests/fixtures/spots, made by make_spots.py):
their paths, and the generator's own spot list so tests derive expected figures from it.
The same invented spots sit in every format `data ingest` reads; they are committed, so the
tests that use them run on any clone (the real spot files of ../shared may not be)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "spots"
_spec = importlib.util.spec_from_file_location("make_spots", FIXTURES / "make_spots.py")
make_spots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_spots)

ARCHIVE = FIXTURES / "wsprspots-synthetic.csv"      # wsprnet archive, 15 columns, no header
WSPRLIVE = FIXTURES / "wsprlive-synthetic.csv"      # wspr.live wspr.rx export
QUERY = FIXTURES / "wsprnet-query-synthetic.csv"    # wsprnet query page CSV
ROCKS = FIXTURES / "wsprrocks-synthetic.tsv"        # wspr.rocks TSV (repeats 2 lines)
COMBINED = FIXTURES / "combined-synthetic.csv"      # the project's combined CSV
FORMS = {"wsprnet": ARCHIVE, "wsprlive": WSPRLIVE, "wsprnet-query": QUERY, "wsprrocks": ROCKS,
         "combined": COMBINED}

SPOTS: list[dict] = make_spots.spots()             # time, band, hz, tx, rx, snr, dbm, km, az, id
N = len(SPOTS)
N_LONG = sum(s["km"] >= 500 for s in SPOTS)         # what build and evaluate keep (distance)
ROCKS_REPEATS = 2                                   # duplicate lines in the wspr.rocks file
TX_GRID = make_spots.TX                             # call -> locator
RX_GRID = make_spots.RX


def other_spots(dst: Path, days: int = 366) -> Path:
    """The archive fixture's spots moved `days` later (2024: still covered by the offline
    space weather): N spots no table that holds the fixture has yet."""
    with ARCHIVE.open() as src, dst.open("w") as out:
        for line in src:
            c = line.split(",")
            c[1] = str(int(c[1]) + days * 86400)
            out.write(",".join(c))
    return dst
