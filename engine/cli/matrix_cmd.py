"""`ionis-tui matrix`: the SFI x Kp matrix of one path for one checkpoint."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic is loaded only once a command runs
    from engine.settings import Settings

# The axes' defaults as typed on the command line. engine.matrix.values holds the same
# numbers (a test checks they agree); importing it here would load torch for `--help`.
DEFAULT_SFI_TEXT = "70,100,150,200,250,300"
DEFAULT_KP_TEXT = "0,1,2,3,4,5,6,7,8,9"


def add_parser(sub) -> None:
    p = sub.add_parser(
        "matrix", help="SFI x Kp matrix of predicted SNR for one path",
        description="Predicted SNR for one path over a grid of solar flux (rows) and Kp (columns), "
                    "with path facts and monotonicity violations (a higher SFI that is worse, a "
                    "higher Kp that is better). TX/RX: grid, preset (W3, G, JA...) or 'lat,lon'.")
    p.add_argument("--checkpoint", required=True, help=".safetensors or .pt file")
    p.add_argument("--tx", required=True, help="grid (FN20), preset (W3) or 'lat,lon'")
    p.add_argument("--rx", required=True, help="grid, preset or 'lat,lon'")
    p.add_argument("--band", required=True, help="160m .. 10m")
    # Numbers are taken as text and checked by the engine, so a bad value gets the same
    # "error: ..." message (exit 2) as every other input error.
    p.add_argument("--hour", required=True, help="UTC hour 0-23")
    p.add_argument("--month", required=True, help="1-12")
    p.add_argument("--day", help="day of year 1-366 (default: mid-month, as in the training data)")
    p.add_argument("--sfi", default=DEFAULT_SFI_TEXT, help=f"comma-separated SFI values 50-400 (default {DEFAULT_SFI_TEXT})")
    p.add_argument("--kp", default=DEFAULT_KP_TEXT, help=f"comma-separated Kp values 0-9 (default {DEFAULT_KP_TEXT})")
    p.add_argument("--units", default="db", help="db or sigma (default db)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from engine.checkpoint import load_model
    from engine.matrix import check_units, compute_matrix, make_path
    from engine.matrix.report import as_dict, format_table
    from engine.matrix.values import kp_values, sfi_values

    # Check every input before loading the model, so a typo costs nothing.
    path = make_path(args.tx, args.rx, args.band, args.hour, args.month, args.day)
    sfi, kp = sfi_values(args.sfi), kp_values(args.kp)
    units = check_units(args.units)
    lm = load_model(args.checkpoint)
    r = compute_matrix(lm, path, sfi, kp)
    if args.json:
        print(json.dumps(as_dict(r, units)))
    else:
        print(format_table(r, units))
    return 0
