"""The app's `i` action: import the IONIS signature bundle from ionis-download's place into
the real embedded chdb, with a progress bar in the data panel; `i` again cancels and the
old table stays."""

from __future__ import annotations

import pytest
from bundle_files import good_rows, write_bundle
from conftest import wait_until
from pilot_tools import screen_text

import engine.data.bundle_import as bundle_import
from engine.data.bundle_file import default_bundle_path
from engine.data.client import connect
from engine.settings import DatabaseSettings, DemoSettings, RunsSettings, Settings, TrainSettings
from ionis_tui.app import IonisApp


def _settings(tmp_path, db: DatabaseSettings) -> Settings:
    return Settings(database=db, demo=DemoSettings(rows=3000, seed=7),
                    train=TrainSettings(device="cpu"), runs=RunsSettings(dir=str(tmp_path / "runs")))


@pytest.fixture
def bundle(tmp_path, monkeypatch):
    monkeypatch.setenv("IONIS_DATA_DIR", str(tmp_path / "mcp"))
    path = default_bundle_path()
    path.parent.mkdir(parents=True)
    return path


async def test_empty_database_imports_the_bundle(tmp_path, chdb_path, bundle):
    db = DatabaseSettings(path=chdb_path, table="app_import")
    connect(db).command(f"DROP TABLE IF EXISTS {db.qualified_table}")
    app = IonisApp(_settings(tmp_path, db))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.state.data.status == "empty", 60, what="check")
        await pilot.pause(0.1)
        assert "i to import the IONIS signature bundle" in screen_text(app)
        await pilot.press("i")  # no file yet: refused with where to get it
        assert app.state.data.status == "empty"
        assert any("ionis-download" in n.message for n in app._notifications)
        write_bundle(bundle, good_rows(400, seed=4))
        await pilot.press("i")
        await wait_until(pilot, lambda: app.state.data.status == "ok", 60, what="imported")
        assert app.state.data.rows == 400
        assert "imported from the IONIS signature bundle" in app.state.data.provenance
        assert any("imported from the IONIS signature bundle" in ln.text for ln in app.state.log)


async def test_import_shows_progress_and_i_cancels(tmp_path, chdb_path, bundle, monkeypatch):
    db = DatabaseSettings(path=chdb_path, table="app_import_cancel")
    connect(db).command(f"DROP TABLE IF EXISTS {db.qualified_table}")
    write_bundle(bundle, good_rows(3000, seed=5))
    monkeypatch.setattr(bundle_import, "CHUNK_ROWS", 10)  # ~150 inserts: time to see a bar
    app = IonisApp(_settings(tmp_path, db))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.state.data.status == "empty", 60, what="check")
        await pilot.press("i")
        await wait_until(pilot, lambda: app.state.data.seed_done > 0, 60, what="progress")
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "importing the IONIS signature bundle" in text and "press i to cancel" in text
        assert "of ~3,000 rows" in text
        await pilot.press("i")
        await wait_until(pilot, lambda: app.state.data.status != "importing", 60, what="cancel")
        assert app.state.data.status == "empty"  # as before: the panel offers d and i again
        assert any("import cancelled" in ln.text and "unchanged" in ln.text
                   for ln in app.state.log)
        exists = connect(db).query("SELECT count() FROM system.tables WHERE database = 'wspr' "
                                   "AND name = 'app_import_cancel'").result_rows[0][0]
        assert exists == 0  # there was no table before, and there is none now
