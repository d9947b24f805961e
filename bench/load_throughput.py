"""Benchmark: load_rows vs a bare column-block read of the same query, and its peak memory.

    python bench/load_throughput.py --rows 1000000 [--json] [--repeat 3] [--path DIR]

Seeds (or reuses) an embedded database with N demo signatures, then, in this one process,
times alternately
  * bare:       client.query_column_block_stream(<the loader's SELECT>) copied block by block
                into a preallocated float32 array (row count known in advance, no checks);
  * load_rows:  the real loader (schema check, counting/malformed scan, progress, copy).
Best of --repeat runs each. Memory, in a fresh child process: tracemalloc peak during one
load_rows (numpy and Python allocations: what the loader holds) and the RSS peak above the
level before the call (sampled every 5 ms; includes chdb's own buffers), both divided by
the size of the resulting array; the same for the bare read, for comparison (chdb's own
buffers make RSS grow by about 2x the result even for the bare read). Targets: ratio_vs_bare_read >= 0.8, peak_mem_ratio <= 1.5.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.client import connect  # noqa: E402
from engine.data.loader import load_rows, select_sql  # noqa: E402
from engine.data.rows import COLUMNS  # noqa: E402
from engine.demo.seed import seed_demo  # noqa: E402
from engine.settings import DatabaseSettings  # noqa: E402

TABLE = "bench_load"


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def bare_read(client, db, n: int, seed: int = 42, val_fraction: float = 0.2) -> np.ndarray:
    out = np.empty((n, len(COLUMNS)), dtype=np.float32)
    params = {"seed": seed, "cut": int(round(val_fraction * 1_000_000)), "limit": n}
    done = 0
    with client.query_column_block_stream(select_sql(db), parameters=params) as stream:
        for block in stream:
            k = len(block[0])
            for j, col in enumerate(block):
                out[done:done + k, j] = np.frombuffer(col, dtype=np.float32)
            done += k
    assert done == n, (done, n)
    return out


def _peak_rss_during(fn):
    base = _rss()
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        result = fn()
    finally:
        stop.set()
        t.join()
    return result, max(peak[0], _rss()) - base


def child_mem(path: str, what: str, n: int) -> int:
    """Read once in this fresh process; print tracemalloc peak and RSS growth as JSON."""
    db = DatabaseSettings(path=path, table=TABLE)
    client = connect(db)
    client.query("SELECT 1")
    tracemalloc.start()
    if what == "bare":
        arr, rss_delta = _peak_rss_during(lambda: bare_read(client, db, n))
    else:
        rows, rss_delta = _peak_rss_during(lambda: load_rows(client, db))
        arr = rows.array
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"rows": len(arr), "nbytes": arr.nbytes, "traced_peak": traced_peak,
                      "rss_delta": rss_delta}))
    return 0


def _mem_in_child(path: str, what: str, n: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child-mem", path, "--child-what", what,
                          "--rows", str(n)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--path", help="embedded database folder to reuse (default: a temp dir)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child-mem", metavar="PATH", help=argparse.SUPPRESS)
    ap.add_argument("--child-what", default="load", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child_mem:
        return child_mem(a.child_mem, a.child_what, a.rows)

    tmp = None
    if a.path:
        path = a.path
    else:
        tmp = tempfile.TemporaryDirectory(prefix="ionis-bench-")
        path = str(Path(tmp.name) / "ionis.chdb")
    db = DatabaseSettings(path=path, table=TABLE)
    client = connect(db)
    t0 = time.perf_counter()
    have = client.query("SELECT count() FROM system.tables WHERE database = {d:String} AND "
                        "name = {t:String}", parameters={"d": db.database, "t": TABLE}).result_rows
    n_have = (client.query(f"SELECT count() FROM {db.qualified_table}").result_rows[0][0]
              if have[0][0] else 0)
    seeded = n_have != a.rows
    if seeded:
        seed_demo(client, db, a.rows, seed=7, force=True)
    seed_s = time.perf_counter() - t0

    bare_t, load_t = [], []
    rows = None
    for _ in range(max(1, a.repeat)):
        t = time.perf_counter()
        ref = bare_read(client, db, a.rows)
        bare_t.append(time.perf_counter() - t)
        del ref
        t = time.perf_counter()
        rows = load_rows(client, db)
        load_t.append(time.perf_counter() - t)
        rows_arr_bytes = rows.array.nbytes
        del rows
    # Memory in a fresh child process (freed arrays of the timed runs would hide RSS growth
    # here); chdb lets one process hold the database, so this one lets go first.
    from engine.data.client import close_all
    close_all()
    mem = _mem_in_child(path, "load", a.rows)
    bare_mem = _mem_in_child(path, "bare", a.rows)
    assert mem["nbytes"] == rows_arr_bytes and mem["rows"] == a.rows

    n = a.rows
    result = {
        "rows": n,
        "seeded": seeded,
        "seed_seconds": round(seed_s, 2),
        "rows_per_s": round(n / min(load_t), 1),
        "bare_rows_per_s": round(n / min(bare_t), 1),
        "ratio_vs_bare_read": round(min(bare_t) / min(load_t), 3),
        "load_seconds_best": round(min(load_t), 4),
        "bare_seconds_best": round(min(bare_t), 4),
        "array_mib": round(rows_arr_bytes / 2**20, 2),
        "peak_mem_ratio": round(mem["traced_peak"] / rows_arr_bytes, 3),
        "rss_peak_delta_ratio": round(mem["rss_delta"] / rows_arr_bytes, 3),
        "bare_peak_mem_ratio": round(bare_mem["traced_peak"] / rows_arr_bytes, 3),
        "bare_rss_peak_delta_ratio": round(bare_mem["rss_delta"] / rows_arr_bytes, 3),
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    if a.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:22s} {v}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
