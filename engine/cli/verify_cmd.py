"""`ionis-tui verify`: run the physics verification suite on a checkpoint.

Exit status: 0 when every applicable test passes, 1 when any fails, 2 on error (raised as
IonisError and printed by the dispatcher; argparse itself exits 2 on bad arguments)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic is loaded only once a command runs
    from engine.settings import Settings

# Same names as engine.verify.spec.GROUPS (a test checks they agree); importing the suite
# here would load torch for `--help`.
GROUPS = ("physics", "band_time", "ki7mt", "paths", "skill", "robustness", "sidecar", "truth")


def add_parser(sub) -> None:
    p = sub.add_parser("verify", help="grade a model against ionospheric physics",
                       description="Run the IONIS verification suite (physics, band x time, robustness, "
                                   "sidecar health, ground truth) on a checkpoint.")
    p.add_argument("--checkpoint", required=True, help=".safetensors or .pt file (ours or published)")
    p.add_argument("--json", action="store_true", help="print the results as a JSON list")
    p.add_argument("--markdown", metavar="FILE", help="also write a Markdown report to FILE")
    p.add_argument("--group", action="append", metavar="NAME",
                   help=f"only this group (repeat or comma-separate): {', '.join(GROUPS)}")
    p.add_argument("--tests", metavar="FILE", help="test definitions (default: the shipped tests.toml)")
    p.add_argument("--truth", choices=("auto", "on", "off"), default="auto",
                   help="ground-truth group: auto = only for models trained on demo data")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from engine.checkpoint import load_model
    from engine.verify import load_specs, run_suite, select
    from engine.verify.report import (
        format_value,
        outcome,
        short_threshold,
        to_json_text,
        write_markdown,
    )

    specs = select(load_specs(args.tests), args.group)  # bad groups/files fail before the model loads
    lm = load_model(args.checkpoint)
    truth = {"auto": None, "on": True, "off": False}[args.truth]
    skill = None
    if any(s.group == "skill" for s in specs):
        from engine.evaluate.source import skill_source
        skill = skill_source(settings)
    report = run_suite(lm, specs, truth=truth, skill=skill)
    if args.markdown:
        write_markdown(report, args.markdown)
    if args.json:
        print(to_json_text(report))
    else:
        print(f"{report.source}: {len(report.results)} tests in {report.seconds:.2f} s")
        for r in report.results:
            print(f"{r.id:<14}{outcome(r):<5} {r.grade or '-':<2} {format_value(r):>10}  {r.name:<30} "
                  f"{short_threshold(r)}")
        failed = [r for r in report.results if r.status == "fail"]
        for r in failed:
            print(f"\n{r.id}: {r.explanation}")
        print(f"\n{report.summary_line()}")
        if args.markdown:
            print(f"Markdown report: {args.markdown}", file=sys.stderr)
    return 0 if report.all_passed else 1
