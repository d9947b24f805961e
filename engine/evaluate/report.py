"""Evaluation reports: JSON (the report dict as is), a text table and Markdown."""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine.checkpoint import atomic_write
from engine.errors import InputError

SHORT = {"band_mean": "(a) band mean", "band_climatology": "(b) band clim.",
         "band_hour_climatology": "(c) band+hour clim.", "voacap": "(v) VOACAP"}
ABC = ("band_mean", "band_climatology", "band_hour_climatology")


def _f(v, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def table_rows(block: dict) -> list[list[str]]:
    """[who, n, r, RMSE, MAE, bias, skill] for the model and each baseline of one block."""
    if "na" in block:
        return [["n/a", str(block.get("n", 0)), block["na"], "", "", "", ""]]
    m = block["model"]
    rows = [["model", str(m["n"]), _f(m["pearson"], "+.3f"), _f(m["rmse_db"], ".2f"),
             _f(m["mae_db"], ".2f"), _f(m["bias_db"], "+.2f"), ""]]
    for name, b in block["baselines"].items():
        if "na" in b:
            rows.append([SHORT[name], "", "n/a", "", "", "", ""])
        else:
            rows.append([SHORT[name], str(b["n"]), _f(b["pearson"], "+.3f"), _f(b["rmse_db"], ".2f"),
                         _f(b["mae_db"], ".2f"), _f(b["bias_db"], "+.2f"), _f(b["skill"], "+.3f")])
    return rows


HEAD = ["", "n", "r", "RMSE dB", "MAE dB", "bias dB", "skill"]


def band_rows(level: dict) -> list[list[str]]:
    """One row per band: n, the model's r and RMSE, and its skill against (a), (b), (c)."""
    out = []
    for band, blk in level.get("bands", {}).items():
        if "na" in blk:
            out.append([band, str(blk["n"]), "-", "-", "-", "-", "-"])
            continue
        m, b = blk["model"], blk["baselines"]
        out.append([band, str(m["n"]), _f(m["pearson"], "+.3f"), _f(m["rmse_db"], ".2f")]
                   + [_f(b[k].get("skill"), "+.3f") for k in ABC])
    return out


BAND_HEAD = ["band", "n", "r", "RMSE dB", "skill a", "skill b", "skill c"]


def _grid(head: list[str], rows: list[list[str]]) -> list[str]:
    w = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return ["  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(r)) for r in [head, *rows]]


def to_text(report: dict) -> str:
    rows = report["rows"]
    dropped = ", ".join(f"{k} {v:,}" for k, v in rows["dropped"].items() if v) or "none"
    lines = [f"{report['checkpoint']} on {report['source']}",
             f"{rows['evaluated']:,} of {rows['read']:,} rows evaluated (dropped: {dropped})"]
    if report["climatology"] != "training table":
        lines.append(f"baselines b, c: {report['climatology']}")
    for level, blk in report["levels"].items():
        lines += ["", f"[{level}]"]
        if "na" in blk:
            lines.append(f"n/a: {blk['na']}")
            continue
        ov = blk["overall"]
        lines += ([f"n/a: {ov['na']}"] if "na" in ov else _grid(HEAD, table_rows(ov)))
        lines += [""] + _grid(BAND_HEAD, band_rows(blk))
    return "\n".join(lines + _rules(report))


def _rules(report: dict) -> list[str]:
    """How the source was read and the aggregation's parameters, one line each."""
    from engine.data.aggregation import rules_line

    sig = report["rows"].get("signatures")
    out = ["", *report.get("notes", [])]
    if report.get("rules"):
        out.append(rules_line(report["rules"]))
    if sig:
        dropped = ", ".join(f"{k} {v:,}" for k, v in sig["dropped"].items() if v) or "none"
        out.append(f"signatures: {sig['kept']:,} of {sig['buckets']:,} buckets kept "
                   f"(dropped: {dropped})")
    return out if len(out) > 1 else []


def to_markdown(report: dict) -> str:
    def md(head, rows):
        return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
            "| " + " | ".join(r) + " |" for r in rows]
    lines = [f"# Skill on real observations: {report['checkpoint']}", "",
             f"Source `{report['source']}`; {report['rows']['evaluated']:,} of {report['rows']['read']:,} rows "
             f"evaluated; dropped {report['rows']['dropped']}.", ""]
    for level, blk in report["levels"].items():
        lines += [f"## {level}", ""]
        if "na" in blk:
            lines += [f"n/a: {blk['na']}", ""]
            continue
        lines += md(HEAD, table_rows(blk["overall"])) + [""] + md(BAND_HEAD, band_rows(blk)) + [""]
    lines += ["## Choices", ""] + [f"- {k}: {v}" for k, v in report["choices"].items()]
    lines += [f"- {t}" for t in _rules(report)[1:]]
    return "\n".join(lines) + "\n"


def to_json_text(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False)


def write_report(report: dict, path: str | os.PathLike) -> Path:
    """Markdown, or JSON when the file name ends in .json; written atomically."""
    text = to_json_text(report) + "\n" if str(path).endswith(".json") else to_markdown(report)
    try:
        return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot write report {path}: {exc.strerror or exc}") from None
