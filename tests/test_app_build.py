"""The app offers a signature build when the table is empty and spots were ingested, and
runs it with a progress bar (real chdb, the synthetic spot fixture: runs on any clone)."""

from __future__ import annotations

from conftest import wait_until
from pilot_tools import screen_text
from spots_fixtures import ARCHIVE, N

from engine.data.client import connect
from engine.data.ingest import ingest_files
from engine.data.sw_table import fill_space_weather
from engine.demo.space_weather import observed_days
from engine.settings import DatabaseSettings, IngestSettings, RunsSettings, Settings, TrainSettings
from ionis_tui.app import IonisApp


async def test_empty_table_with_spots_is_built_from_the_app(tmp_path, chdb_path):
    db = DatabaseSettings(path=chdb_path, database="h8_app", table="sigs")
    client = connect(db)
    client.command("DROP DATABASE IF EXISTS h8_app SYNC")
    ingest_files(client, db, [ARCHIVE], table="spots")
    fill_space_weather(client, db, "space_weather", observed_days())
    app = IonisApp(Settings(database=db, ingest=IngestSettings(),
                            train=TrainSettings(device="cpu"),
                            runs=RunsSettings(dir=str(tmp_path / "runs"))))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.state.data.status != "checking", 60, what="check")
        await pilot.pause(0.2)
        assert app.state.data.status == "empty" and app.state.data.spots == N
        assert f"b to build signatures from the {N:,} ingested WSPR spots" in screen_text(app)
        await pilot.press("b")
        assert app.state.data.status in ("building", "ok")
        await wait_until(pilot, lambda: app.state.data.status == "ok", 120, what="built")
        rows = client.query(f"SELECT count() FROM {db.qualified_table}").result_rows[0][0]
        assert app.state.data.rows == rows > 0
        assert "built from spots 2023-02-01" in app.state.data.provenance


async def test_b_while_another_command_writes_the_table_says_who_and_builds_once_it_is_free(
        tmp_path, chdb_path):
    """One writer per table, in the app: the build is refused naming the other writer (here a
    `data build` on another machine against the same server), the table is left alone, and once
    that lock is gone g and b build as usual."""
    import json

    from engine.data.write_lock import lock_table

    db = DatabaseSettings(path=chdb_path, database="h8_lock", table="sigs")
    client = connect(db)
    client.command("DROP DATABASE IF EXISTS h8_lock SYNC")
    ingest_files(client, db, [ARCHIVE], table="spots")
    fill_space_weather(client, db, "space_weather", observed_days())
    held = json.dumps({"command": "data build", "host": "studio.local", "pid": 77, "since": "2026-12-03 09:00:00"})
    client.command(f"CREATE TABLE h8_lock.`{lock_table('sigs')}` (held UInt8) ENGINE = Memory COMMENT '{held}'")
    app = IonisApp(Settings(database=db, ingest=IngestSettings(), train=TrainSettings(device="cpu"),
                            runs=RunsSettings(dir=str(tmp_path / "runs"))))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.state.data.status == "empty", 60, what="check")
        await pilot.press("b")
        await wait_until(pilot, lambda: app.state.data.status == "error", 60, what="refused")
        assert "being written by `data build` (pid 77 on studio.local" in app.state.data.message
        shown = screen_text(app)
        assert "pid 77 on studio.local" in shown and "drop table h8_lock.sigs__lock" in shown
        assert "fix: " not in shown and "fix the setting" not in shown  # no setting fixes this
        assert client.query("SELECT count() FROM system.tables WHERE database = 'h8_lock' AND "
                            "name = 'sigs'").result_rows[0][0] == 0
        client.command(f"DROP TABLE h8_lock.`{lock_table('sigs')}`")
        await pilot.press("g")
        await wait_until(pilot, lambda: app.state.data.status == "empty", 60, what="recheck")
        await pilot.press("b")
        await wait_until(pilot, lambda: app.state.data.status == "ok", 120, what="built")
