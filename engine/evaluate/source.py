"""The verify suite's skill source: the real observations this installation has, read once,
then any number of models evaluated on them.

Which observations, in order: the signature or spots table set in [evaluate] table; else the
spots table `data ingest` fills ([ingest] spots_table) when it holds spots; else the spot file
in [evaluate] spots; else none, and the reason says what was looked for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.errors import IonisError


def _ingested_spots(settings) -> tuple[str | None, str]:
    """The ingested spots table as database.table when it holds rows, else why not. An embedded
    database that does not exist yet is not created just to look."""
    from engine.data.client import connect, translating
    from engine.data.schema import table_exists

    db, name = settings.database, settings.ingest.spots_table
    if db.mode == "embedded" and not Path(db.path).expanduser().exists():
        return None, "no database yet"
    try:
        client = connect(db)
        exists = table_exists(client, db, name)
        with translating(db):
            rows = client.query(f"SELECT count() FROM `{db.database}`.`{name}`").result_rows[0][0] \
                if exists else 0
    except IonisError as exc:
        return None, f"database unavailable: {exc}"
    if not rows:
        return None, f"spots table {db.database}.{name} is empty" if exists else f"no spots table {db.database}.{name}"
    return f"{db.database}.{name}", ""


def observation_source(settings) -> tuple[dict[str, str] | None, str]:
    """({"table": ...} or {"spots": ...}, what it is) or (None, why there are no observations)."""
    cfg = settings.evaluate
    if cfg.table:
        return {"table": cfg.table}, f"table {cfg.table} ([evaluate] table)"
    table, why = _ingested_spots(settings)
    if table:
        return {"table": table}, f"ingested spots {table}"
    if cfg.spots:
        return {"spots": cfg.spots}, f"spot file {cfg.spots} ([evaluate] spots)"
    return None, f"no observations: {why}, no spot file (settings [evaluate] spots)"


def skill_source(settings, levels: tuple[str, ...] | None = None) -> Callable | str:
    """A function LoadedModel -> Evaluation on the installation's observations, or why there is
    none. A source that cannot be read is a reason (the skill tests say it), not a crash of the
    whole suite."""
    from engine.evaluate.observations import load_observations
    from engine.evaluate.run import evaluate
    from engine.evaluate.tables import climatology

    cfg = settings.evaluate
    chosen, what = observation_source(settings)
    if chosen is None:
        return what
    try:
        obs = load_observations(settings, spots=chosen.get("spots"), table=chosen.get("table"))
    except IonisError as exc:
        return f"{what} unusable: {exc}"
    try:
        clim = climatology(settings.database, cfg.climatology_table or None)
    except IonisError as exc:
        clim = f"no training-table climatology: {exc}"

    # The skill group judges the finest level only; the evaluate view shows both.
    lv = levels or (("spots",) if obs.level == "spots" else ("signatures",))

    def run(lm):
        return evaluate(lm, obs, clim, min_band_rows=cfg.min_band_rows, levels=lv)
    return run
