"""What the configured signature table holds, as one plain dict (CLI `data status`, app)."""

from __future__ import annotations

from typing import Any

from engine.bands import BY_ID
from engine.data.bundle_import import bundle_status
from engine.data.client import translating, where
from engine.data.loader import HAS_SFI, VALID, scan_report
from engine.data.meta import META_TABLE, read_meta
from engine.errors import DataError
from engine.settings import DatabaseSettings

SEED_META_KEY = "seed"  # same key engine.demo.seed writes (kept here: data must not import demo)
SOURCE_META_KEY = "source"  # {"kind": "spots"|"bundle"|..., ...}: data build, data import


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
    prov = provenance(client, db)
    out["provenance"] = prov
    if prov and prov["kind"] == "demo":
        out["demo"] = {k: prov.get(k) for k in ("rows", "seed", "written_at",
                                                "space_weather_first_day",
                                                "space_weather_last_day")}
        out["newest_data"] = prov.get("space_weather_last_day")
        out["newest_data_note"] = "demo data: last observed space-weather day it samples"
    else:
        out["demo"] = None
        out["newest_data"] = prov.get("last_spot") if prov else None
        out["newest_data_note"] = ("newest spot the build used" if out["newest_data"]
                                   else "the signature table stores months only, no dates")

    out["bundle"] = bundle_status(client, db)  # set when `data import` wrote the table
    return out


def provenance(client, db: DatabaseSettings) -> dict[str, Any] | None:
    """Who last wrote the configured table: the newest of the "source" document (any kind:
    "spots" from `data build`, "bundle" from `data import`...) and the demo seeder's "seed"
    document (reported as kind "demo"). None when neither exists."""
    docs = {}
    for key in (SOURCE_META_KEY, SEED_META_KEY):
        doc = read_meta(client, db, key)
        if doc and (key != SEED_META_KEY or doc.get("demo")):  # {"demo": false}: not the seeder's
            docs[key] = doc
    if not docs:
        return None
    stamps = _meta_stamps(client, db)
    key = max(docs, key=lambda k: stamps.get(k, ""))
    doc = dict(docs[key])
    doc.setdefault("kind", "demo" if key == SEED_META_KEY else "unknown")
    return doc


def _meta_stamps(client, db: DatabaseSettings) -> dict[str, str]:
    with translating(db):
        rows = client.query(f"SELECT key, toString(max(written_at)) FROM "
                            f"`{db.database}`.`{META_TABLE}` WHERE table_name = {{t:String}} "
                            f"GROUP BY key", parameters={"t": db.table}).result_rows
    return dict(rows)


def _num(v) -> float | None:
    return None if v is None else round(float(v), 3)


def source_label(client, db: DatabaseSettings) -> str:
    """Where training rows come from, in words; says "demo data" when `data seed` wrote the
    table, so checkpoints record it and verification knows the demo truth applies."""
    label = f"{where(db)}, table {db.database}.{db.table}"
    try:
        prov = provenance(client, db)
    except DataError:
        return label
    if prov and prov["kind"] == "demo":
        label += f" (demo data, seed {prov.get('seed')})"
    elif prov and prov["kind"] == "spots":
        label += f" (built from spots {prov.get('first_spot')} .. {prov.get('last_spot')})"
    elif prov and prov["kind"] == "bundle":
        label += " (imported from the IONIS signature bundle)"
    elif prov:
        label += f" ({prov['kind']})"
    return label


def spots_status(client, db: DatabaseSettings, spots_table: str,
                 sw_table: str) -> dict[str, Any] | None:
    """Rows, date span, bands and stations of the raw spots table and the span of the
    space-weather table; None when there is no spots table."""
    from engine.data.sw_table import sw_span

    with translating(db):
        exists = client.query("SELECT count() FROM system.tables WHERE database = {d:String} "
                              "AND name = {t:String}",
                              parameters={"d": db.database, "t": spots_table}).result_rows[0][0]
        if not exists:
            return None
        name = f"`{db.database}`.`{spots_table}`"
        n, first, last, tx, rx = client.query(
            f"SELECT count(), toString(min(time)), toString(max(time)), uniqExact(tx_sign), "
            f"uniqExact(rx_sign) FROM {name}").result_rows[0]
        bands = client.query(f"SELECT band, count() FROM {name} GROUP BY band "
                             f"ORDER BY band").result_rows
    span = sw_span(client, db, sw_table)
    return {"table": f"{db.database}.{spots_table}", "rows": int(n),
            "first": first if n else None, "last": last if n else None,
            "tx_stations": int(tx), "rx_stations": int(rx),
            "bands": {BY_ID[int(b)].name: int(c) for b, c in bands if int(b) in BY_ID},
            "space_weather": span.as_dict() if span else None}
