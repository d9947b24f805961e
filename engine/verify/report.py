"""Report writers: JSON (a list of result objects) and Markdown (summary, tables, explanations)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from engine.atomic import atomic_write
from engine.errors import InputError
from engine.verify.runner import FAIL, NA, PASS, GroupSummary, Result, SuiteReport
from engine.verify.spec import GROUP_TITLES


def format_value(r: Result) -> str:
    """The judged value, short, its unit after a space: '+1.61 dB', '+0.482 σ', '14z', '0'."""
    if r.status == NA:
        return "n/a"
    v = {"db": r.value_db, "sigma": r.value_sigma}.get(r.unit, r.value)
    if v is None or not math.isfinite(v):
        return "undefined"
    if r.unit == "db":
        return f"{v:+.2f} dB"
    if r.unit == "sigma":
        return f"{v:+.3f} σ"
    if r.unit == "hour":
        return f"{v:02.0f}z"
    if r.unit == "ratio":
        return f"{v:.2f}x"
    if r.unit == "skill":
        return f"{v:+.3f}"
    return f"{v:g}"


def short_threshold(r: Result) -> str:
    return r.threshold.split(" (grade")[0]


def outcome(r: Result) -> str:
    return {PASS: "PASS", FAIL: "FAIL", NA: "n/a"}[r.status]


def override_text(r: Result) -> str:
    """'ovr PASS' for a result also judged after the peer's override rule, else ''."""
    return "" if r.override_status is None else f"ovr {r.override_status.upper()}"


def group_parts(g: GroupSummary) -> list[str]:
    """A group's tally in short parts: its gates when it has a verdict (KI7MT: raw, override,
    gates, regressions), else passed/total, grade points and tests true by construction; or
    "n/a" and the reason."""
    if g.verdict is not None and g.verdict.status != NA:
        x = g.verdict.extra
        n = len(x["regressions"])
        return [f"raw {x['raw_pass']}/{x['hard']}", f"ovr {x['override_pass']}/{x['hard']}",
                f"gates {outcome(g.verdict)}", f"{n or 'no'} regression{'s' if n > 1 else ''}"]
    if not g.total:
        return ["n/a"] + ([g.na_reason] if g.na_reason else [])
    parts = [f"{g.passed}/{g.total} passed"]
    if g.gpa is not None:
        parts.append(f"GP {g.gpa:.1f}/4")
    if g.architecture:
        parts.append(f"+{g.architecture} by construction")
    return parts


def group_heading(g: GroupSummary) -> str:
    return " · ".join(group_parts(g))


def to_json(report: SuiteReport) -> list[dict]:
    return [r.as_dict() for r in report.results]


def to_json_text(report: SuiteReport) -> str:
    return json.dumps(to_json(report), indent=2, ensure_ascii=False, allow_nan=False)


def to_markdown(report: SuiteReport) -> str:
    lines = [f"# IONIS verification: {report.source}", "",
             f"**{report.summary_line()}** ({report.seconds:.2f} s, {report.forward_passes} forward passes)", "",
             "| group | passed | failed | n/a | grade points |", "|---|---|---|---|---|"]
    for g in report.groups:
        gpa = f"{g.gpa:.1f}/4" if g.gpa is not None else "-"
        lines.append(f"| {g.title} | {g.passed} | {g.failed} | {g.not_applicable} | {gpa} |")
    for g in report.groups:
        rs = [r for r in report.results if r.group == g.group]
        lines += ["", f"## {GROUP_TITLES[g.group]}", "", f"{group_heading(g)}", "",
                  "| id | test | value | threshold | result | grade |", "|---|---|---|---|---|---|"]
        for r in rs:
            res = f"**{outcome(r)}**" + (f" ({override_text(r)})" if r.override_status else "")
            cells = [r.id, r.name, format_value(r), r.threshold, res, r.grade or "-"]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
        lines += [f"- **{r.id}**: {r.explanation}" for r in rs]
    return "\n".join(lines) + "\n"


def _write(path: str | os.PathLike, text: str) -> Path:
    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")
    try:
        return atomic_write(path, write)
    except OSError as exc:
        raise InputError(f"cannot write report {path}: {exc.strerror or exc}") from None


def write_json(report: SuiteReport, path: str | os.PathLike) -> Path:
    return _write(path, to_json_text(report) + "\n")


def write_markdown(report: SuiteReport, path: str | os.PathLike) -> Path:
    return _write(path, to_markdown(report))
