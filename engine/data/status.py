"""What the configured signature table holds, as one plain dict (CLI `data status`, app)."""

from __future__ import annotations

from typing import Any

from engine.bands import BY_ID
from engine.data.bundle_import import bundle_status
from engine.data.client import translating, where
from engine.data.loader import HAS_SFI, VALID, scan_report
from engine.data.meta import read_meta
from engine.errors import DataError
from engine.settings import DatabaseSettings

SEED_META_KEY = "seed"  # same key engine.demo.seed writes (kept here: data must not import demo)


def data_status(client, db: DatabaseSettings) -> dict[str, Any]:
    """Mode, source, table, row counts, SFI/Kp ranges, rows per band and what is known about
    the data's dates. Raises DataError when the source or the table is unusable.

    The signature table keeps only the month of each bucket, so no newest date can be read
    from it; for demo data the span of real space-weather days it was drawn from is
    reported (from the metadata the seeder writes); otherwise `newest_data` is None."""
    report = scan_report(client, db)  # checks the schema first
    out: dict[str, Any] = {
        "mode": db.mode,
        "source": db.path if db.mode == "embedded" else f"{db.host}:{db.port}",
        "where": where(db),
        "table": f"{db.database}.{db.table}",
        "row_count": report.table_rows,
        "usable_rows": report.usable,
        "rows_without_sfi": report.no_sfi,
        "malformed_rows": report.malformed,
        "malformed_reasons": {k: v for k, v in report.reasons.items() if v},
    }
    with translating(db):
        ranges = client.query(
            f"SELECT min(avg_sfi), max(avg_sfi), min(avg_kp), max(avg_kp), sum(spot_count), "
            f"min(month), max(month), uniqExact(month) "
            f"FROM {db.qualified_table} WHERE {HAS_SFI} AND {VALID}").result_rows[0]
        bands = client.query(
            f"SELECT band, count() FROM {db.qualified_table} WHERE {HAS_SFI} AND {VALID} "
            f"GROUP BY band ORDER BY band").result_rows
    has = report.usable > 0
    out.update({
        "sfi_min": _num(ranges[0]) if has else None, "sfi_max": _num(ranges[1]) if has else None,
        "kp_min": _num(ranges[2]) if has else None, "kp_max": _num(ranges[3]) if has else None,
        "spots": int(ranges[4] or 0),
        "months_present": int(ranges[7]) if has else 0,
        "band_rows": {BY_ID[int(b)].name: int(n) for b, n in bands},
    })
    meta = read_meta(client, db, SEED_META_KEY)
    if meta and meta.get("demo"):
        out["demo"] = {k: meta.get(k) for k in ("rows", "seed", "written_at",
                                                "space_weather_first_day",
                                                "space_weather_last_day")}
        out["newest_data"] = meta.get("space_weather_last_day")
        out["newest_data_note"] = "demo data: last observed space-weather day it samples"
    else:
        out["demo"] = None
        out["newest_data"] = None
        out["newest_data_note"] = "the signature table stores months only, no dates"
    out["bundle"] = bundle_status(client, db)  # set when `data import` wrote the table
    return out


def _num(v) -> float | None:
    return None if v is None else round(float(v), 3)


def source_label(client, db: DatabaseSettings) -> str:
    """Where training rows come from, in words; says "demo data" when `data seed` wrote the
    table, so checkpoints record it and verification knows the demo truth applies."""
    label = f"{where(db)}, table {db.database}.{db.table}"
    try:
        meta = read_meta(client, db, SEED_META_KEY)
    except DataError:
        return label
    if meta and meta.get("demo"):
        label += f" (demo data, seed {meta.get('seed')})"
    elif bundle_status(client, db):
        label += " (imported from the IONIS signature bundle)"
    return label
