"""Benchmark: how time and memory grow with the number of signatures, bundle to validation.

    python bench/scale.py [--rows 200000 2000000 20000000] [--steps 200] [--dir DIR] [--json]

For each size, in this order, every stage in a fresh child process (so one stage's memory, or
this process's, never counts in another's):
  write     a bundle in the published layout (tests/bundle_files.py, the import tests' writer;
            reused from --dir when it is already there);
  import    engine.data.bundle_import.import_bundle into an embedded table (what `data import`
            runs);
  train     what `train` does, stage by stage in one process: load (engine.data.loader.load_rows,
            all rows), prepare (engine.train.prepare), --steps optimizer steps of the trainer's
            own step (recipe.training_step on seeded-permutation batches at the default batch
            size, as TrainingSession draws them; the first 10 steps are warm-up), then one
            validation pass (metrics.evaluate, as each epoch ends);
  sample    load_rows with train.limit_rows = --sample (default a tenth of the rows): the
            seeded sample is drawn in the database, so its memory follows the sample.
Per stage: seconds, rows/s, peak RSS (VmHWM read inside the child; reset between the stages
of the train child through /proc/self/clear_refs), the RSS it added over the child's own size
just before the stage, and that per row. samples_per_s_ratio compares each size's training
speed with the smallest size's (random gathers from a bigger table miss the caches more);
interleaved_ratio measures the same in one process, alternating steps on all training rows
with steps on their first --small rows, which a shared machine's load moves far less.
projection extrapolates each stage to --project rows (default 93.6M, the published bundle)
from the two largest sizes: seconds per row from the largest, memory from the slope.
Targets: train peak <= baseline + 2x the float32 arrays; samples_per_s_ratio >= 0.9.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

TABLE = "bench_scale"
MB = 2**20
WARMUP_STEPS = 10


# ---- inside a child: one stage, measured from /proc/self/status -----------------------------

def _vm() -> dict[str, int]:
    with open("/proc/self/status") as f:
        return {ln.split(":")[0]: int(ln.split()[1]) * 1024 for ln in f if ln.startswith("Vm")}


def _reset_peak() -> None:
    """Start a new high-water mark at the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


class Stage:
    """Times one stage and records its peak RSS and what it added over the RSS before it."""

    def __init__(self, out: dict, name: str, rows: int):
        self.out, self.name, self.rows = out, name, rows

    def __enter__(self):
        _reset_peak()
        self.base, self.t0 = _vm()["VmRSS"], time.perf_counter()
        self.load0 = os.getloadavg()[0]
        return self

    def __exit__(self, *exc):
        s, vm = time.perf_counter() - self.t0, _vm()
        self.out[self.name] = {
            "seconds": round(s, 2), "rows": self.rows, "rows_per_s": round(self.rows / max(s, 1e-9)),
            "peak_rss_mb": round(vm["VmHWM"] / MB, 1), "base_rss_mb": round(self.base / MB, 1),
            "added_rss_mb": round((vm["VmHWM"] - self.base) / MB, 1),
            "added_bytes_per_row": round((vm["VmHWM"] - self.base) / max(self.rows, 1), 1),
            "load_avg_1m": [round(self.load0, 2), round(os.getloadavg()[0], 2)]}


def child_write(a: argparse.Namespace) -> dict:
    from bundle_files import write_generated

    out: dict = {}
    with Stage(out, "write", a.n):
        write_generated(Path(a.file), a.n, seed=3)
    return out


def _db(a: argparse.Namespace):
    from engine.settings import DatabaseSettings

    return DatabaseSettings(path=a.db, table=TABLE)


def child_import(a: argparse.Namespace) -> dict:
    from engine.data.bundle_file import inspect_bundle
    from engine.data.bundle_import import import_bundle
    from engine.data.client import connect

    out: dict = {}
    db = _db(a)
    client = connect(db)
    client.query("SELECT 1")
    with Stage(out, "import", a.n):
        import_bundle(client, db, inspect_bundle(a.file), force=True)
    return out


def child_sample(a: argparse.Namespace) -> dict:
    from engine.data.client import connect
    from engine.data.loader import load_rows

    out: dict = {}
    db = _db(a)
    client = connect(db)
    client.query("SELECT 1")
    with Stage(out, "sample", a.sample):
        rows = load_rows(client, db, limit_rows=a.sample)
    out["sample"]["loaded"] = len(rows)
    return out


def child_train(a: argparse.Namespace) -> dict:
    import torch

    from engine.data.client import close_all, connect
    from engine.data.loader import load_rows
    from engine.features import FEATURE_SETS
    from engine.settings import TrainSettings
    from engine.train.memory import array_bytes_per_row
    from engine.train.prepare import prepare

    tr = TrainSettings()
    if a.threads:
        torch.set_num_threads(a.threads)
    out: dict = {"batch_size": tr.batch_size, "torch_threads": torch.get_num_threads()}
    db = _db(a)
    client = connect(db)
    client.query("SELECT 1")
    out["baseline_rss_mb"] = round(_vm()["VmRSS"] / MB, 1)
    with Stage(out, "load", a.n):
        rows = load_rows(client, db, seed=tr.seed, val_fraction=tr.val_fraction)
    close_all()  # as `train` does: the rows are in memory, the embedded engine is released
    n = len(rows)
    with Stage(out, "prepare", n):
        data = prepare(rows, FEATURE_SETS[tr.feature_set], torch.device("cpu"))
    del rows  # as TrainingSession does once the rows are prepared
    out["arrays_mb"] = round(n * array_bytes_per_row(tr.feature_set) / MB, 1)
    out["rows_train"], out["rows_val"] = data.train.n, data.val.n
    _train_and_validate(a, tr, data, out)
    peak = max(v["peak_rss_mb"] for v in out.values() if isinstance(v, dict) and "peak_rss_mb" in v)
    out["train_run_peak_rss_mb"] = peak
    out["peak_over_baseline_vs_arrays"] = round((peak - out["baseline_rss_mb"]) / out["arrays_mb"], 3)
    return out


def _trainer(tr, data):
    """The trainer's model, optimizer and step, as TrainingSession sets them up."""
    import torch

    from engine.features import FEATURE_SETS
    from engine.model import IonisGate
    from engine.train.physics_recipe import init_sidecars, storm_weights
    from engine.train.recipe import build_optimizer, training_step

    torch.manual_seed(tr.seed)
    model = IonisGate(tr.feature_set)
    ex = tr.experimental
    init_sidecars(model, ex.sidecar_init_weight, tr.seed, sun_weight=ex.sun_sidecar_init_weight)
    d = data.train
    w = storm_weights(d.x, d.w, FEATURE_SETS[tr.feature_set], ex.storm_weight)
    opt = build_optimizer(model, tr)
    return model, lambda idx: training_step(model, opt, d.x[idx], d.y[idx], w[idx], tr, d.sfi_cell[idx])


class _Batches:
    """Batches of a seeded permutation of rows 0..n-1, a new permutation when one runs out, as
    TrainingSession draws them. Drawing a permutation is the epoch's one-off cost (timed apart:
    a fixed number of steps would otherwise pay it far more often than a real epoch does)."""

    def __init__(self, n: int, bs: int, gen):
        self.n, self.bs, self.gen, self.at, self.perm_s = n, bs, gen, n, []

    def ensure(self) -> None:
        import torch

        if self.at + self.bs > self.n:
            t = time.perf_counter()
            self.perm, self.at = torch.randperm(self.n, generator=self.gen), 0
            self.perm_s.append(time.perf_counter() - t)

    def __next__(self):
        idx = self.perm[self.at:self.at + self.bs]
        self.at += self.bs
        return idx


def _steps(step, batches: _Batches, count: int) -> float:
    """samples/s of `count` trainer steps (permutation draws excluded)."""
    busy = 0.0
    for _ in range(count):
        batches.ensure()
        t0 = time.perf_counter()
        step(next(batches)).item()  # the trainer syncs at its progress points; here every step
        busy += time.perf_counter() - t0
    return count * batches.bs / busy


def _train_and_validate(a: argparse.Namespace, tr, data, out: dict) -> None:
    import torch

    from engine.train import metrics
    from engine.train.recipe import compared

    model, step = _trainer(tr, data)
    bs, n = min(tr.batch_size, data.train.n), data.train.n
    gen = torch.Generator().manual_seed(tr.seed)
    full = _Batches(n, bs, gen)
    _steps(step, full, WARMUP_STEPS)
    with Stage(out, "train", a.steps * bs):
        out["samples_per_s"] = round(_steps(step, full, a.steps), 1)
    out["train"]["steps"] = a.steps
    out["randperm_seconds_per_epoch"] = round(max(full.perm_s), 3)
    if a.small and a.small < n:  # the same trainer on the first --small rows, alternating
        small, f, sm = _Batches(a.small, bs, gen), [], []
        for _ in range(3):
            f.append(_steps(step, full, a.steps // 3))
            sm.append(_steps(step, small, a.steps // 3))
        out["interleaved_ratio"] = round(statistics.median(x / y for x, y in zip(f, sm, strict=True)), 4)
    with Stage(out, "validate", data.val.n):
        metrics.evaluate(model, data.val, tr.huber_delta, lambda o, x: compared(o, x, tr))


CHILDREN = {"write": child_write, "import": child_import, "train": child_train, "sample": child_sample}


# ---- the parent: sizes, children, ratios, projection ----------------------------------------

def _run_child(stage: str, a: argparse.Namespace, n: int, file: Path, db: str) -> dict:
    argv = [sys.executable, __file__, "--child", stage, "--n", str(n), "--file", str(file), "--db", db,
            "--steps", str(a.steps), "--small", str(a.small), "--sample", str(a.sample or max(1, n // 10)), "--threads", str(a.threads)]
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"stage {stage} at {n:,} rows failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def one_size(a: argparse.Namespace, n: int, folder: Path) -> dict:
    file = folder / f"signatures-{n}.sqlite"
    out: dict = {"rows": n}
    t0 = time.perf_counter()
    if file.is_file():
        out["write"] = {"reused": str(file)}
    else:
        out.update(_run_child("write", a, n, file, ""))
    with tempfile.TemporaryDirectory(prefix="ionis-scale-", dir=folder) as tmp:
        db = str(Path(tmp) / "ionis.chdb")
        for stage in ("import", "train", "sample"):
            out.update(_run_child(stage, a, n, file, db))
            if not a.json:
                print(f"{n:>12,} rows: {stage} done ({time.perf_counter() - t0:,.0f} s)", file=sys.stderr, flush=True)
    if not a.keep and not a.dir:
        file.unlink(missing_ok=True)
    out["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return out


def projection(sizes: list[dict], rows: int) -> dict:
    """Each stage's seconds scaled by rows from the largest size; its peak RSS from the slope
    between the two largest sizes (the fixed part cancels)."""
    big = sizes[-1]
    prev = sizes[-2] if len(sizes) > 1 else None
    out: dict = {"rows": rows, "from_rows": [s["rows"] for s in sizes[-2:]]}
    for stage in ("import", "load", "prepare", "validate"):
        b = big.get(stage)
        if not b or "seconds" not in b:
            continue
        scale = rows / big["rows"]  # a stage's own rows (validation: its side) grow alike
        p = {"seconds": round(b["seconds"] * scale, 0)}
        if prev and prev.get(stage, {}).get("peak_rss_mb"):
            slope = (b["peak_rss_mb"] - prev[stage]["peak_rss_mb"]) / (b["rows"] - prev[stage]["rows"])
            p["peak_rss_gb"] = round((b["peak_rss_mb"] + slope * b["rows"] * (scale - 1)) / 1024, 2)
        out[stage] = p
    tr = big["rows_train"] / big["rows"] * rows
    out["epoch_seconds_at_samples_per_s"] = round(tr / big["samples_per_s"], 0)
    peaks = [v["peak_rss_gb"] for v in out.values() if isinstance(v, dict) and "peak_rss_gb" in v]
    if peaks:
        out["train_run_peak_rss_gb"] = max(peaks)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[200_000, 2_000_000, 20_000_000])
    ap.add_argument("--steps", type=int, default=200, help="timed optimizer steps per size")
    ap.add_argument("--small", type=int, default=160_000,
                    help="rows of the interleaved comparison (0 = none)")
    ap.add_argument("--sample", type=int, default=0, help="limit_rows of the sample stage (default N/10)")
    ap.add_argument("--project", type=int, default=93_600_000)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads while training (default: torch's own choice, as `train`)")
    ap.add_argument("--dir", help="folder for the bundles, kept and reused (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    for hidden in ("--n", "--file", "--db"):
        ap.add_argument(hidden, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        a.n, a.sample = int(a.n), int(a.sample)
        print(json.dumps(CHILDREN[a.child](a)))
        return 0
    return _parent(a)


def _parent(a: argparse.Namespace) -> int:
    if not Path("/proc/self/clear_refs").exists():
        raise SystemExit("bench/scale.py reads peak memory from /proc (Linux only)")
    t0 = time.perf_counter()
    load0 = os.getloadavg()
    folder = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="ionis-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [one_size(a, n, folder) for n in sorted(set(a.rows))]
    base = sizes[0]["samples_per_s"]
    for s in sizes:
        s["samples_per_s_ratio"] = round(s["samples_per_s"] / base, 4)
    result = {"sizes": sizes, "projection": projection(sizes, a.project),
              "targets": {"samples_per_s_ratio": ">= 0.9", "peak_over_baseline_vs_arrays": "<= 2"},
              "steps": a.steps, "cpu_count": os.cpu_count(),
              "mem_total_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
              "load_avg_before": [round(x, 2) for x in load0],
              "load_avg_after": [round(x, 2) for x in os.getloadavg()],
              "wall_seconds": round(time.perf_counter() - t0, 1)}
    if not a.dir:
        import shutil
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result) if a.json else json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
