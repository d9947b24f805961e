"""`ionis-tui export CHECKPOINT --peer DIR`: the checkpoint in the layout of the peer's tool
(PyPI `ionis-validate`): weights, config.json and <name>_meta.json."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.settings import Settings


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write a checkpoint in the layout ionis-validate reads",
                       description="Write CHECKPOINT for the peer's validation tool (pip install "
                                   "ionis-validate): DIR/<name>.safetensors, DIR/config.json and "
                                   "DIR/<name>_meta.json. Only V22-layout models (the features the "
                                   "peer builds) can be exported.")
    p.add_argument("checkpoint", help=".safetensors or .pt file (ours or published)")
    p.add_argument("--peer", required=True, metavar="DIR", help="folder to write the three files into")
    p.add_argument("--name", help="file name stem (default: the checkpoint's; a run's best/last: <run>_best)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from engine.export import export_peer

    paths = export_peer(args.checkpoint, args.peer, args.name)
    for p in paths.values():
        print(p)
    cfg = paths["config"]
    print(f"\nrun the peer's tool on it, e.g.:\n  ionis-validate predict --config {cfg} --tx-grid FN20 "
          f"--rx-grid IO91 --band 20m --sfi 150 --kp 2 --hour 14 --month 6 --day-of-year 172\n"
          f"  python scripts/peer_validate.py {cfg}")
    return 0
