"""Benchmark: `data import` of a generated SQLite bundle vs ClickHouse's own bare read of it.

    python bench/import_throughput.py [--rows 2000000] [--json] [--repeat 2] [--file F]

Writes (or reuses, --file) a bundle of N valid rows with exactly the published schema
(tests/bundle_files.py), then in this one process times alternately
  * bare:   `SELECT count(), sum(median_snr) FROM sqlite(file, table)` (the issue's yardstick);
  * full:   the same read of all 13 columns (what any import must decode);
  * import: engine.data.bundle_import.import_bundle into an embedded table (read, checks,
            conversion, MergeTree write, OPTIMIZE to one part, swap).
Best of --repeat each; import_rows_per_s and ratio_vs_bare_read (bare seconds / import
seconds; target >= 0.7) and ratio_vs_full_read. Memory: one import in a fresh child
process, its peak RSS (ru_maxrss) and the growth over its RSS just before the import.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bundle_files import TABLE, write_generated  # noqa: E402

from engine.data.bundle_file import inspect_bundle  # noqa: E402
from engine.data.bundle_import import default_streams, import_bundle  # noqa: E402
from engine.data.client import close_all, connect  # noqa: E402
from engine.data.schema import SCHEMA  # noqa: E402
from engine.settings import DatabaseSettings  # noqa: E402

BENCH_TABLE = "bench_import"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _lit(p: Path) -> str:
    return "'" + str(p).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def child_mem(db_path: str, file: str, streams: int) -> int:
    db = DatabaseSettings(path=db_path, table=BENCH_TABLE)
    client = connect(db)
    client.query("SELECT 1")
    base = _rss_mb()
    rep = import_bundle(client, db, inspect_bundle(file), streams=streams, force=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rep.rows, "peak_rss_mb": peak, "base_rss_mb": base}))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--streams", type=int, default=default_streams())
    ap.add_argument("--file", help="bundle to reuse (written there when missing)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child-mem", nargs=2, metavar=("DB", "FILE"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child_mem:
        return child_mem(*a.child_mem, a.streams)

    tmp = tempfile.TemporaryDirectory(prefix="ionis-bench-import-")
    file = Path(a.file) if a.file else Path(tmp.name) / "wspr_signatures_v2.sqlite"
    t0 = time.perf_counter()
    generated = not file.is_file()
    if generated:
        write_generated(file, a.rows, seed=3)
    gen_s = time.perf_counter() - t0
    info = inspect_bundle(file)
    db = DatabaseSettings(path=str(Path(tmp.name) / "ionis.chdb"), table=BENCH_TABLE)
    client = connect(db)
    src = f"sqlite({_lit(file)}, '{TABLE}')"
    full = ", ".join(f"sum(length({c}))" if c.endswith("_grid_4") else f"sum({c})" for c in SCHEMA)
    bare_t, full_t, imp_t = [], [], []
    rows = 0
    for _ in range(max(1, a.repeat)):
        bare_t.append(_timed(lambda: client.query(f"SELECT count(), sum(median_snr) FROM {src}")))
        full_t.append(_timed(lambda: client.query(f"SELECT count(), {full} FROM {src}")))
        t = time.perf_counter()
        rows = import_bundle(client, db, info, streams=a.streams, force=True).rows
        imp_t.append(time.perf_counter() - t)
    close_all()  # chdb: one process holds the database at a time
    mem = json.loads(subprocess.run(
        [sys.executable, __file__, "--child-mem", db.path, str(file), "--streams", str(a.streams)],
        check=True, capture_output=True, text=True).stdout)
    n = info.rowid_span
    result = {
        "rows": n, "rows_imported": rows, "file_mb": round(info.size / 2**20, 1),
        "generated": generated, "generate_seconds": round(gen_s, 2), "streams": a.streams,
        "import_rows_per_s": round(n / min(imp_t), 1),
        "bare_read_rows_per_s": round(n / min(bare_t), 1),
        "full_read_rows_per_s": round(n / min(full_t), 1),
        "ratio_vs_bare_read": round(min(bare_t) / min(imp_t), 3),
        "ratio_vs_full_read": round(min(full_t) / min(imp_t), 3),
        "import_seconds_best": round(min(imp_t), 3),
        "peak_rss_mb": round(mem["peak_rss_mb"], 1),
        "rss_growth_mb": round(mem["peak_rss_mb"] - mem["base_rss_mb"], 1),
        "cpu_count": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result) if a.json else
          "\n".join(f"{k:22s} {v}" for k, v in result.items()))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
