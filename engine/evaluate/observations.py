"""Real observations as per-row arrays: the one function every evaluation source goes through.

There is one reader of spot files: `data ingest`'s (engine.data.ingest). `load_observations`
ingests the files into a scratch spots table (same formats, compression, per-line reasons
and refusals), then reads that table exactly as it reads a spots table the user ingested,
and as `data build` reads it (engine.data.aggregation): the same space-weather join, the
same filters, at spot level and aggregated into signatures by the build's own SQL. A
signature table is read as the loader reads it (engine.evaluate.tables).
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from engine.data.client import connect, translating
from engine.errors import InputError
from engine.evaluate.arrays import Observations

if TYPE_CHECKING:
    from engine.settings import Settings

SCRATCH_PREFIX = "ionis_eval"


def load_observations(settings: Settings, *, spots=None, table: str | None = None,
                      first: str | None = None, last: str | None = None,
                      fmt: str = "auto") -> Observations:
    """The evaluation's one entry point: spot files (`spots`: a path or a list, any format
    `data ingest` reads) or a table in [database] (`table`: a spots table or a signature
    table, told apart by its columns). first/last: 'YYYY-MM' months to keep."""
    from engine.data.aggregation import month_bounds

    if (not spots) == (table is None):
        raise InputError("give exactly one observation source: spot files or a table")
    span = month_bounds(first, last)
    if spots:
        files = [spots] if isinstance(spots, (str, Path)) else list(spots)
        return _from_files(settings, files, span, fmt)
    from engine.evaluate.tables import signatures_from_table, table_kind, with_table

    d = with_table(settings.database, table)
    client = connect(d)
    if table_kind(client, d) == "spots":
        with _scratch(client, d) as names:
            sw = _space_weather(client, d, settings.ingest.sw_table, names["sw"])
            return spots_from_table(client, d, d.table, sw, span, settings.ingest.min_spots,
                                    f"{d.database}.{d.table}")
    return signatures_from_table(d, span)


def _from_files(settings: Settings, files: list, span, fmt: str) -> Observations:
    from engine.data.ingest import ingest_files

    db = settings.database
    client = connect(db)
    with _scratch(client, db) as names:
        rep = ingest_files(client, db, files, fmt, table=names["spots"],
                           max_bad_share=settings.ingest.max_bad_share)
        sw = _space_weather(client, db, settings.ingest.sw_table, names["sw"])
        label = ", ".join(str(f) for f in files)
        obs = spots_from_table(client, db, names["spots"], sw, span, settings.ingest.min_spots,
                               label)
    obs.read = sum(f.lines for f in rep.files)
    obs.dropped = {**_line_reasons(rep), **obs.dropped}
    obs.notes.append("read by `data ingest`'s readers: " + "; ".join(
        f"{f.path} ({f.format}, {f.lines:,} lines)" for f in rep.files))
    return obs


def _line_reasons(rep) -> dict[str, int]:
    """Lines of the files that never became a spot of the table, by ingest's reason."""
    out: dict[str, int] = {}
    for f in rep.files:
        for reason, n in f.reasons.items():
            out[reason] = out.get(reason, 0) + n
        if f.skipped_not_hf:
            out["not an HF band"] = out.get("not an HF band", 0) + f.skipped_not_hf
    duplicates = sum(f.spots for f in rep.files) - rep.rows_total
    if duplicates:
        out["duplicate spot"] = duplicates
    return out


def spot_columns(settings: Settings, files: list, columns: tuple[str, ...],
                 filters: tuple[str, ...] = ("space_weather",), fmt: str = "auto"):
    """Columns of engine.data.aggregation.spot_rows_sql for the spots of `files`, read by
    `data ingest`'s readers, keeping the rows that pass the named filters (the build's; the
    default keeps every spot with space weather). Returns (name -> numpy array, lines read,
    reason -> rows left out): for tools that need a spot's full locator or exact time."""
    import numpy as np

    from engine.data.aggregation import all_of, first_failed_sql, spot_filter_sql, spot_rows_sql
    from engine.data.ingest import ingest_files

    db = settings.database
    client = connect(db)
    with _scratch(client, db) as names:
        rep = ingest_files(client, db, files, fmt, table=names["spots"],
                           max_bad_share=settings.ingest.max_bad_share)
        rows = spot_rows_sql(db, names["spots"], _space_weather(client, db, settings.ingest.sw_table,
                                                                 names["sw"]))
        f = {k: v for k, v in spot_filter_sql(db, names["spots"]).items() if k in filters}
        with translating(db):
            why = dict(client.query(f"SELECT {first_failed_sql(f)} AS why, count() FROM ({rows}) "
                                    f"GROUP BY why").result_rows)
            cols = client.query(f"SELECT {', '.join(columns)} FROM ({rows}) WHERE {all_of(f)} "
                                f"ORDER BY time, spot_key").result_columns
    out = {c.split(" AS ")[-1]: np.asarray(v)  # "expression AS name" is keyed by name
           for c, v in zip(columns, cols or [[]] * len(columns), strict=True)}
    dropped = {**_line_reasons(rep), **{k: int(v) for k, v in why.items() if k}}
    return out, sum(r.lines for r in rep.files), dropped


@contextmanager
def _scratch(client, db):
    """Names of scratch tables for this call (two evaluations may run at once in one process:
    the app's screens), dropped afterwards whatever happens."""
    base = f"{SCRATCH_PREFIX}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    names = {"spots": f"{base}_spots", "sw": f"{base}_sw"}
    _drop(client, db, names)
    try:
        yield names
    finally:
        _drop(client, db, names)


def _drop(client, db, names: dict[str, str]) -> None:
    with translating(db):
        for name in names.values():
            client.command(f"DROP TABLE IF EXISTS `{db.database}`.`{name}` SYNC")


def _space_weather(client, db, configured: str, scratch: str) -> str:
    """The space-weather table `data build` joins ([ingest] sw_table) when it is there;
    otherwise a scratch one filled from the same offline source (`data sw`'s)."""
    from engine.data.sw_table import fill_space_weather, sw_span
    from engine.demo.space_weather import observed_days

    if sw_span(client, db, configured) is not None:
        return configured
    fill_space_weather(client, db, scratch, observed_days())
    return scratch


def spots_from_table(client, db, spots_table: str, sw_table: str, span, min_spots: int,
                     label: str) -> Observations:
    """The spots of a spots table that pass the build's filters, each with what training sees
    for a signature row (square centres, UTC hour, month, the spot's own day, the day's
    F10.7 and its 3-hour block's Kp); and the same spots aggregated as `data build` does."""
    from engine.data.aggregation import (
        all_of,
        buckets_sql,
        first_failed_sql,
        rules,
        spot_filter_sql,
        spot_rows_sql,
    )

    rows = spot_rows_sql(db, spots_table, sw_table)
    filters = spot_filter_sql(db, spots_table, *span)
    with translating(db):
        why = dict(client.query(f"SELECT {first_failed_sql(filters)} AS why, count() "
                                f"FROM ({rows}) GROUP BY why").result_rows)
        cols = client.query(f"SELECT tx_grid_4, rx_grid_4, band, hour, month, doy, snr, sfi, kp "
                            f"FROM ({rows}) WHERE {all_of(filters)} "
                            f"ORDER BY time, spot_key").result_columns
        buckets = client.query(f"SELECT count(), countIf(n >= {int(min_spots)}) "
                               f"FROM ({buckets_sql(rows, filters)})").result_rows[0]
    total = int(sum(why.values()))
    dropped = {k: int(v) for k, v in why.items() if k}
    if not cols or not len(cols[0]):
        detail = ", ".join(f"{k} {v:,}" for k, v in dropped.items()) or "no spots"
        raise InputError(f"{label}: none of its {total:,} spots can be evaluated (dropped: "
                         f"{detail}); space weather covers observed days only")
    obs = _arrays("spots", label, cols, with_doy=True)
    obs.read, obs.dropped, obs.rules = total, dropped, rules(min_spots)
    obs.signatures = _signatures(client, db, rows, filters, min_spots, label)
    obs.signatures.read = int(buckets[0])
    obs.signatures.dropped = {f"fewer_than_{int(min_spots)}_spots": int(buckets[0] - buckets[1])}
    return obs


def _signatures(client, db, rows: str, filters: dict, min_spots: int, label: str) -> Observations:
    from engine.data.aggregation import rules, signatures_sql

    with translating(db):
        cols = client.query(
            f"SELECT tx_grid_4, rx_grid_4, band, hour, month, median_snr, avg_sfi, avg_kp "
            f"FROM ({signatures_sql(rows, filters, min_spots)}) "
            f"ORDER BY tx_grid_4, rx_grid_4, band, hour, month, avg_kp, avg_sfi").result_columns
    sig = _arrays("signatures", label, cols, with_doy=False)
    sig.rules = rules(min_spots)
    return sig


def _arrays(level: str, label: str, cols: list, with_doy: bool) -> Observations:
    """Observations from query columns (tx, rx, band, hour, month, [doy], snr, sfi, kp)."""
    import numpy as np

    n = len(cols[0]) if cols else 0
    if n == 0:
        e = np.zeros(0)
        return Observations(level, label, e.astype("S4"), e.astype("S4"), e.astype(np.int16),
                            e.astype(np.int8), e.astype(np.int8), None, e.astype(np.float32),
                            e.astype(np.float32), e.astype(np.float32))
    txg, rxg = (np.char.upper(np.array([g if isinstance(g, bytes) else str(g).encode()
                                        for g in c], dtype="S4")) for c in cols[:2])
    rest = [np.asarray(c) for c in cols[2:]]
    doy = rest.pop(3).astype(np.int16) if with_doy else None
    return Observations(level, label, txg, rxg, rest[0].astype(np.int16), rest[1].astype(np.int8),
                        rest[2].astype(np.int8), doy, rest[3].astype(np.float32),
                        rest[4].astype(np.float32), rest[5].astype(np.float32))
