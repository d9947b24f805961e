"""What the configured signature table holds, as one plain dict (CLI `data status`, app)."""

from __future__ import annotations

from typing import Any

from engine.bands import BY_ID
from engine.data.bundle_import import bundle_status
from engine.data.client import translating, where
from engine.data.loader import HAS_SFI, VALID, scan_report
from engine.data.provenance import Provenance, read_provenance
from engine.data.schema import table_exists
from engine.errors import DataError
from engine.settings import DatabaseSettings


def data_status(client, db: DatabaseSettings) -> dict[str, Any]:
    """Mode, source, table, row counts, SFI/Kp ranges, rows per band and what is known about
    the data's dates. Raises DataError when the source or the table is unusable.

    The signature table keeps only the month of each bucket, so no newest date can be read
    from it; for demo data the span of real space-weather days it was drawn from is
    reported (from the table's provenance, engine.data.provenance); for a table built from
    spots the newest spot it used; otherwise `newest_data` is None."""
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
    prov = read_provenance(client, db)
    out["provenance"] = prov.to_dict() if prov else None
    p = prov.params if prov else {}
    if prov and prov.is_demo:
        out["demo"] = {k: p.get(k) for k in ("rows", "seed", "written_at",
                                             "space_weather_first_day", "space_weather_last_day")}
        out["newest_data"] = p.get("space_weather_last_day")
        out["newest_data_note"] = "demo data: last observed space-weather day it samples"
    else:
        out["demo"] = None
        out["newest_data"] = p.get("last_spot")
        out["newest_data_note"] = ("newest spot the build used" if out["newest_data"]
                                   else "the signature table stores months only, no dates")
    out["bundle"] = bundle_status(client, db)  # set when `data import` wrote the table
    return out


def _num(v) -> float | None:
    return None if v is None else round(float(v), 3)


def source_label(prov: Provenance | None, db: DatabaseSettings) -> str:
    """Where training rows come from, in words (display only: decisions read prov.kind)."""
    label = f"{where(db)}, table {db.database}.{db.table}"
    p = prov.params if prov else {}
    if prov is None:
        return label
    if prov.kind == "demo":
        return label + f" (demo data, seed {p.get('seed')})"
    if prov.kind == "spots":
        return label + f" (built from spots {p.get('first_spot')} .. {p.get('last_spot')})"
    return label + " (imported from the IONIS signature bundle)"


def data_origin(client, db: DatabaseSettings) -> dict[str, Any]:
    """What a training run records about its rows: `data_source` (words), `data_table`
    (qualified name) and `data_provenance` (Provenance.to_dict(), None when unknown)."""
    try:
        prov = read_provenance(client, db)
    except DataError:
        prov = None
    return {"data_source": source_label(prov, db), "data_table": f"{db.database}.{db.table}",
            "data_provenance": prov.to_dict() if prov else None}


def spots_status(client, db: DatabaseSettings, spots_table: str,
                 sw_table: str) -> dict[str, Any] | None:
    """Rows, date span, bands and stations of the raw spots table and the span of the
    space-weather table; None when there is no spots table."""
    from engine.data.sw_table import sw_span

    if not table_exists(client, db, spots_table):
        return None
    with translating(db):
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


def overview(client, db: DatabaseSettings, spots_table: str, sw_table: str) -> dict[str, Any]:
    """Everything `data status` reports, whatever exists: the spots table (None when there is
    none), the space-weather span (None) and the signature table: `signatures` is "present"
    (with data_status's keys) or "missing" (with a hint). Raises DataError only when it
    cannot look (unreachable server, a table of the wrong shape...)."""
    from engine.data.schema import table_columns
    from engine.data.sw_table import sw_span

    spots = spots_status(client, db, spots_table, sw_table)
    sw = sw_span(client, db, sw_table)
    if table_columns(client, db):
        out = {**data_status(client, db), "signatures": "present"}
    else:
        hint = ("build it from the ingested spots: `ionis-tui data build`"
                if spots and spots["rows"] else
                "`ionis-tui data seed` (demo), `data ingest` + `data build` or `data import`")
        out = {"mode": db.mode, "source": db.path if db.mode == "embedded" else f"{db.host}:{db.port}",
               "where": where(db), "table": f"{db.database}.{db.table}", "signatures": "missing",
               "signatures_hint": hint, "row_count": 0, "provenance": None}
    out.update(spots_table=spots, space_weather=sw.as_dict() if sw else None,
               writers=writers(client, db, (db.table, spots_table, sw_table)))
    return out


def writers(client, db: DatabaseSettings, tables) -> dict[str, dict]:
    """The tables a command is writing now: qualified name -> its lock's holder."""
    from engine.data.write_lock import holders

    return {f"{db.database}.{t}": h for t, h in holders(client, db, dict.fromkeys(tables)).items()}
