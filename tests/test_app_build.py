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
