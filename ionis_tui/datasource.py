"""The start-up database check and demo seeding, as plain blocking functions.

The app runs them in thread workers so the screen appears at once; they never raise for a
database problem: every DataError becomes a DataSource the data panel can show."""

from __future__ import annotations

from collections.abc import Callable

from engine.errors import DataError
from engine.settings import DatabaseSettings
from ionis_tui.dashboard_state import DataSource, DataStatus


def describe(db: DatabaseSettings) -> DataSource:
    """What we are about to check, before touching the database."""
    where = db.path if db.mode == "embedded" else f"{db.host}:{db.port}"
    return DataSource(status=DataStatus.CHECKING, mode=db.mode, where=where, table=f"{db.database}.{db.table}")


def check(db: DatabaseSettings, spots_table: str = "") -> DataSource:
    """Connect, check the table's schema and count the usable rows.

    embedded + missing or empty table -> "empty" (the app offers to seed demo data there);
    server + missing or empty table -> "error" naming database.table (we never write to a
    user's server unasked); unreachable server, bad credentials, wrong column types -> "error"
    naming the setting the DataError points at."""
    from engine.data.client import connect
    from engine.data.loader import count_rows
    from engine.data.schema import table_columns

    d = describe(db)
    try:
        client = connect(db)
        d.spots = _spot_count(client, db, spots_table)
        if db.mode == "embedded" and not table_columns(client, db):
            d.status, d.rows = DataStatus.EMPTY, 0
            d.message = (f"The embedded database {d.where} has no table {d.table} yet.")
            return d
        d.rows = count_rows(client, db)
    except DataError as exc:
        d.status, d.message, d.setting = DataStatus.ERROR, str(exc), exc.setting
        return d
    if d.rows == 0:
        if db.mode == "embedded":
            d.status = DataStatus.EMPTY
            d.message = f"The table {d.table} in the embedded database {d.where} has no usable rows."
        else:
            d.status, d.setting = DataStatus.ERROR, "database.table"
            d.message = (f"The table {d.table} on the ClickHouse server {d.where} has no usable rows "
                         f"(rows need avg_sfi > 0 and valid grids, band, hour, month, Kp).")
        return d
    from engine.data.status import data_origin

    d.status = DataStatus.OK
    d.origin = data_origin(client, db)
    d.provenance = d.origin["data_source"]
    return d


def seed(db: DatabaseSettings, rows: int, seed_value: int,
         progress: Callable[[int, int], None] | None = None,
         cancel: Callable[[], bool] | None = None, min_spots: int | None = None) -> DataSource:
    """Write the demo signatures into the embedded database, then check it again
    (min_spots: [ingest] min_spots, the build's minimum)."""
    from engine.data.client import connect
    from engine.demo.seed import seed_demo

    if db.mode != "embedded":
        d = describe(db)
        d.status, d.setting = DataStatus.ERROR, "database.mode"
        d.message = "demo data is only written into the embedded database, never into a server"
        return d
    try:
        seed_demo(connect(db), db, rows, seed_value, progress=progress, cancel=cancel,
                  min_spots=min_spots)
    except DataError as exc:
        d = describe(db)
        d.status, d.message, d.setting = DataStatus.ERROR, f"seeding failed: {exc}", exc.setting
        return d
    return check(db)


def _spot_count(client, db: DatabaseSettings, spots_table: str) -> int:
    """Rows of the raw spots table (the app offers a build from them); 0 when there is none."""
    if not spots_table:
        return 0
    from engine.data.client import translating

    with translating(db):
        rows = client.query("SELECT total_rows FROM system.tables WHERE database = {d:String} "
                            "AND name = {t:String}",
                            parameters={"d": db.database, "t": spots_table}).result_rows
    return int(rows[0][0] or 0) if rows else 0


def build(settings, progress: Callable[[int, int], None] | None = None) -> DataSource:
    """Build the signature table from the ingested spots (`data build`), then check again."""
    from engine.data.build import build_signatures
    from engine.data.client import connect
    from engine.errors import IonisError

    db, ing = settings.database, settings.ingest
    try:
        build_signatures(connect(db), db, spots_table=ing.spots_table, sw_table=ing.sw_table,
                         min_spots=ing.min_spots, progress=progress)
    except IonisError as exc:
        d = describe(db)
        d.status, d.message = DataStatus.ERROR, f"building from spots failed: {exc}"
        d.setting = getattr(exc, "setting", "")
        return d
    return check(db, ing.spots_table)
