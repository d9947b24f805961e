"""Benchmark: `data ingest` and `data build` vs ClickHouse's own bare work on the same data.

    python bench/ingest_throughput.py [--rows 2000000] [--json] [--repeat 1] [--keep DIR]

Generates a seeded wsprnet-archive CSV (15 columns, no header) shaped like the real files in
shared/data/wspr: the real stations (calls and grids) of wspr_spots_real.csv, the real share
of spots per band, 2-minute slots over one month, SNR ~ N(-15, 8) clipped to WSPR's range,
distance/azimuth from the grids. The file lives in a temporary folder (removed afterwards
unless --keep). Then, in this one process, on a fresh embedded database:
  * bare parse: SELECT count() FROM file(.., 'CSV', <the 15 typed columns>) WHERE NOT ignore(*)
    (every column parsed; the count-only shortcut would skip parsing);
  * ingest:     engine.data.ingest.ingest_files (parse + reasons, staging, dedup, move);
  * bare GROUP BY: count() per (tx grid4, rx grid4, band, hour, month) of the spots table;
  * build:      engine.data.build.build_signatures (report, join, aggregate, swap, meta).
Best of --repeat each. peak_rss_mb is the process's peak resident set (ru_maxrss), chdb
included: ClickHouse streams the file, Python never holds the rows.
Targets: ratio_vs_bare_parse >= 0.5, ratio_vs_bare_groupby >= 0.5.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.bands import BY_ID  # noqa: E402
from engine.data.build import build_signatures  # noqa: E402
from engine.data.client import connect  # noqa: E402
from engine.data.ingest import ingest_files  # noqa: E402
from engine.data.sw_table import fill_space_weather  # noqa: E402
from engine.demo.space_weather import observed_days  # noqa: E402
from engine.geo import bearing_deg, haversine_km  # noqa: E402
from engine.grids import grids_to_latlon  # noqa: E402
from engine.settings import DatabaseSettings  # noqa: E402

REAL = ROOT.parent / "shared" / "data" / "wspr" / "wspr_spots_real.csv"
BARE_STRUCTURE = ("id UInt64, t UInt32, rx String, rx_loc String, snr Int16, mhz Float64, "
                  "tx String, tx_loc String, power Int16, drift Int16, distance UInt32, "
                  "azimuth UInt16, band Int16, version String, code Int16")
MONTH_START = 1675209600  # 2023-02-01 00:00 UTC


def _stations() -> tuple[list, list, dict]:
    tx, rx, bands = {}, {}, {}
    with REAL.open() as fh:
        for r in csv.DictReader(fh):
            tx[r["tx_sign"]] = r["tx_loc"]
            rx[r["rx_sign"]] = r["rx_loc"]
            bands[int(r["band"])] = bands.get(int(r["band"]), 0) + 1
    return sorted(tx.items()), sorted(rx.items()), bands


def generate(path: Path, n: int, seed: int = 1) -> None:
    """Write n wsprnet-archive lines shaped like the real files (vectorised numpy)."""
    rng = np.random.default_rng(seed)
    tx, rx, bands = _stations()
    mhz = np.array(sorted(bands))
    p = np.array([bands[m] for m in mhz], dtype=float)
    ti, ri = rng.integers(0, len(tx), n), rng.integers(0, len(rx), n)
    txc, txl = np.array([c for c, _ in tx]), np.array([g for _, g in tx])
    rxc, rxl = np.array([c for c, _ in rx]), np.array([g for _, g in rx])
    tlat, tlon = grids_to_latlon(txl[ti])
    rlat, rlon = grids_to_latlon(rxl[ri])
    dist = np.round(haversine_km(tlat, tlon, rlat, rlon)).astype(np.int64)
    az = np.round(bearing_deg(tlat, tlon, rlat, rlon)).astype(np.int64) % 360
    band = rng.choice(mhz, n, p=p / p.sum())
    dial = {b.mhz: b.freq_hz for b in BY_ID.values()}
    freq = (np.vectorize(dial.get)(band) + 1400 + rng.integers(0, 200, n)) / 1e6
    t = MONTH_START + rng.integers(0, 28 * 720, n) * 120
    snr = np.clip(np.round(rng.normal(-15, 8, n)), -34, 20).astype(np.int64)
    ids = 5_273_871_656 + rng.permutation(n)
    cols = [ids, t, rxc[ri], rxl[ri], snr, np.char.mod("%.6f", freq), txc[ti], txl[ti],
            rng.choice([23, 30, 33, 37], n), rng.integers(-1, 2, n), dist, az, band,
            rng.choice(["2.6.1", "WD_3.2.3", "spyserver_"], n), np.ones(n, dtype=np.int64)]
    with path.open("w") as fh:
        for start in range(0, n, 200_000):
            part = [np.asarray(c[start:start + 200_000]).astype(str) for c in cols]
            fh.write("\n".join(",".join(row) for row in zip(*part, strict=True)) + "\n")


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run(rows: int, repeat: int, keep: str | None) -> dict:
    tmp = Path(keep or tempfile.mkdtemp(prefix="ionis_ingest_bench_"))
    tmp.mkdir(parents=True, exist_ok=True)
    src = tmp / "wsprspots-2023-02.csv"
    t0 = time.perf_counter()
    generate(src, rows)
    gen_s = time.perf_counter() - t0
    db = DatabaseSettings(path=str(tmp / "db.chdb"), database="bench_ingest", table="sigs")
    client = connect(db)
    client.command("DROP DATABASE IF EXISTS bench_ingest SYNC")
    fill_space_weather(client, db, "space_weather", observed_days())
    bare_s, n = _best(lambda: client.query(
        f"SELECT count() FROM file('{src}', 'CSV', '{BARE_STRUCTURE}') WHERE NOT ignore(*)"
    ).result_rows[0][0], repeat)

    def ingest():
        client.command("DROP TABLE IF EXISTS bench_ingest.spots SYNC")
        return ingest_files(client, db, [src], table="spots")

    ingest_s, rep = _best(ingest, repeat)
    group_s, groups = _best(lambda: client.query(
        "SELECT count() FROM (SELECT count() FROM bench_ingest.spots GROUP BY "
        "upper(substring(tx_loc, 1, 4)), upper(substring(rx_loc, 1, 4)), band, toHour(time), "
        "toMonth(time))").result_rows[0][0], repeat)
    build_s, b = _best(lambda: build_signatures(client, db, spots_table="spots",
                                                sw_table="space_weather"), repeat)
    out = {
        "rows": rows, "file_mb": round(src.stat().st_size / 2**20, 1), "generate_s": round(gen_s, 2),
        "bare_parse_rows_per_s": round(n / bare_s), "ingest_rows_per_s": round(rows / ingest_s),
        "ratio_vs_bare_parse": round(bare_s / ingest_s, 3), "spots_added": rep.rows_added,
        "bare_groupby_rows_per_s": round(rep.rows_total / group_s),
        "build_rows_per_s": round(rep.rows_total / build_s),
        "ratio_vs_bare_groupby": round(group_s / build_s, 3), "groups": int(groups),
        "signatures": b.signatures, "peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = run(args.rows, args.repeat, args.keep)
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:26s} {v}")


if __name__ == "__main__":
    main()
