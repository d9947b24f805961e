"""Speed of the evaluation (issue 9 target: the skill group on 1M spots under 10 s).

    python bench/evaluate_speed.py [--spots 1000000] [--checkpoint PATH] [--config FILE] [--json]

Generates N spots (random 4-character grids from 2,000 stations, every band, 2-minute slots of
2023 with the package's observed SFI/Kp, SNR -30..+10 dB). Like real WSPR, a path is heard again
within the hour: spots fall on N / 2.43 (path, band, day, hour) cells, the ratio of spots to
distinct model inputs in ../shared/data/wspr/wspr_spots_real.csv. Then it times, in one run:
reading them from a combined-format CSV of the same N rows through the product's one reader
(engine.evaluate.observations.load_observations: `data ingest` into a scratch table of the
configured database, then the build's SQL at spot and signature level), the
whole evaluation at spot and signature level (engine.evaluate.run.evaluate), and the verify
suite's skill group on them, and one bare forward pass over the distinct inputs (the floor).
spots_per_s = N / spot-level evaluation seconds. Exit 1 if the skill group takes 10 s or more.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.bands import BANDS  # noqa: E402
from engine.checkpoint import LoadedModel, load_model  # noqa: E402
from engine.model import IonisGate  # noqa: E402
from engine.model_sources import published_v22  # noqa: E402

TARGET_S = 10.0
REPEAT = 2.43  # spots per distinct model input in the shared real spot file


def _model(checkpoint: str | None) -> LoadedModel:
    if checkpoint:
        return load_model(checkpoint)
    if (v22 := published_v22()) is not None:
        return load_model(v22)
    m = IonisGate("v22").eval()
    return LoadedModel(m, m.feature_set, Path("fresh-v22"), "fresh")


def make_csv(n: int, path: Path, seed: int = 0) -> None:
    """N spots in the combined format of ../shared/data/wspr/wspr_spots_real.csv."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("ABCDEFGHIJKLMNOPQR"))
    pool = np.char.add(np.char.add(rng.choice(letters, 2000), rng.choice(letters, 2000)),
                       rng.integers(10, 100, 2000).astype(str))
    cells = max(1, int(n / REPEAT))
    cell = rng.integers(0, cells, n)  # each spot's (path, band, day, hour) cell
    hour_start = np.datetime64("2023-01-01T00:00") + rng.integers(0, 365 * 24, cells) * np.timedelta64(60, "m")
    times = (hour_start[cell] + rng.integers(0, 30, n) * np.timedelta64(2, "m")).astype(str)
    hz = np.array([b.freq_hz for b in BANDS])[rng.integers(0, len(BANDS), cells)][cell]
    tx, rx = rng.integers(0, 2000, cells)[cell], rng.integers(0, 2000, cells)[cell]
    calls = np.char.add("S", np.arange(2000).astype(str))  # one call per station: never moving
    n_ = len(cell)
    cols = [np.char.add(times, "Z"), hz.astype(str), calls[tx], pool[tx], calls[rx], pool[rx],
            rng.integers(-30, 11, n).astype(str), np.full(n_, "37"), np.full(n_, "0"),
            rng.integers(500, 15000, cells)[cell].astype(str), np.full(n_, "45")]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("time_utc,frequency_hz,tx_sign,tx_loc,rx_sign,rx_loc,snr,power_dbm,drift,"
                 "distance_km,azimuth\n")
        for a in range(0, n, 100_000):
            rows = [",".join(r) for r in zip(*(c[a:a + 100_000] for c in cols), strict=True)]
            fh.write("\n".join(rows) + "\n")


def main(argv: list[str] | None = None) -> int:
    from engine.evaluate.observations import load_observations
    from engine.evaluate.run import evaluate
    from engine.settings import load_settings
    from engine.verify import load_specs, run_suite, select

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spots", type=int, default=1_000_000)
    ap.add_argument("--checkpoint", help="default: published V22, else a fresh model")
    ap.add_argument("--config", help="settings file (its database holds the scratch tables)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    settings = load_settings(a.config)
    lm = _model(a.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "spots.csv"
        make_csv(a.spots, f)
        t0 = time.perf_counter()
        obs = load_observations(settings, spots=f)
        read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluate(lm, obs, "bench: no climatology", levels=("spots",))
    spot_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev = evaluate(lm, obs, "bench: no climatology")
    both_s = time.perf_counter() - t0
    from engine.evaluate.run import distinct_inputs

    distinct = len(distinct_inputs(obs)[0])
    x = torch.randn(distinct, lm.feature_set.input_dim)
    with torch.no_grad():
        t0 = time.perf_counter()
        lm.model.parts(x)
        forward_s = time.perf_counter() - t0
    specs = select(load_specs(), ["skill"])
    t0 = time.perf_counter()
    run_suite(lm, specs, skill=lambda m: evaluate(m, obs, "bench", levels=("spots",)))
    skill_s = time.perf_counter() - t0
    res = {"spots": len(obs), "spots_per_s": round(len(obs) / spot_s), "evaluate_spot_level_s": round(spot_s, 3),
           "evaluate_both_levels_s": round(both_s, 3), "signature_rows": ev.report["levels"]["signatures"]["n"],
           "distinct_inputs": distinct, "forward_only_s": round(forward_s, 3),
           "overhead_ratio": round(spot_s / forward_s, 2), "read_csv_s": round(read_s, 3), "skill_group_s": round(skill_s, 3), "target_seconds": TARGET_S,
           "ratio_to_target": round(skill_s / TARGET_S, 4), "model": lm.label,
           "torch_threads": torch.get_num_threads()}
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k}: {v}")
    return 0 if skill_s < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
