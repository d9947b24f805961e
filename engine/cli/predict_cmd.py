"""`ionis-tui predict`: one prediction for a path, band, time and space weather."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic is loaded only once a command runs
    from engine.settings import Settings


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="predict SNR for one path and condition",
                       description="Predict SNR (sigma and dB) for one path. TX/RX: grid, preset or 'lat,lon'.")
    p.add_argument("--checkpoint", required=True, help=".safetensors or .pt file")
    p.add_argument("--tx", required=True, help="grid (FN20), preset (W3) or 'lat,lon'")
    p.add_argument("--rx", required=True, help="grid, preset or 'lat,lon'")
    p.add_argument("--band", required=True, help="160m .. 10m")
    p.add_argument("--hour", required=True, type=float, help="UTC hour 0-23")
    p.add_argument("--month", required=True, type=int, help="1-12")
    p.add_argument("--day", type=int, help="day of year 1-366 (default: mid-month)")
    p.add_argument("--sfi", required=True, type=float, help="solar flux 50-400")
    p.add_argument("--kp", required=True, type=float, help="Kp 0-9")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here, not at the top: torch must not slow down `--help` or argument errors.
    from engine.checkpoint import load_model
    from engine.predict import Path_, check_kp, check_sfi, predict_one

    path = Path_.parse(args.tx, args.rx, args.band, args.hour, args.month, args.day)
    sfi, kp = check_sfi(args.sfi), check_kp(args.kp)
    lm = load_model(args.checkpoint)
    r = predict_one(lm, path, sfi, kp)
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in r.items()}))
    else:
        print(f"{lm.label}  {path.band.name}  {args.hour:g}z  month {path.month}  SFI {sfi:g}  Kp {kp:g}")
        print(f"SNR {r['db']:+.2f} dB  ({r['sigma']:+.3f} sigma)  base {r['base']:+.3f}  "
              f"sun {r['sun']:+.3f} (gate {r['sun_gate']:.2f})  storm {r['storm']:+.3f} (gate {r['storm_gate']:.2f})")
    return 0
