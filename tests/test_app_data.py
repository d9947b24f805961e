"""The app's start-up database check and demo seeding, against the real embedded chdb (the
session-wide `chdb_path`) and real refused / unresolvable servers: each problem shows a
panel naming the setting to fix, the app stays alive, and an empty database can be seeded."""

from __future__ import annotations

import socket

import pytest
from conftest import recorded_notifications, wait_until
from pilot_tools import screen_text

from engine.checkpoint import load_model
from engine.data.client import connect
from engine.data.loader import count_rows
from engine.data.schema import create_table_sql
from engine.settings import DatabaseSettings, DemoSettings, RunsSettings, Settings, TrainSettings
from engine.train import events as ev
from engine.verify.runner import truth_applies
from ionis_tui.app import IonisApp
from ionis_tui.screens.help import HelpScreen


def make_settings(tmp_path, db: DatabaseSettings, **train) -> Settings:
    return Settings(database=db, demo=DemoSettings(rows=3000, seed=7),
                    train=TrainSettings(device="cpu", progress_interval=0.05, **train),
                    runs=RunsSettings(dir=str(tmp_path / "runs")))


async def checked(pilot, app: IonisApp) -> None:
    await wait_until(pilot, lambda: app.state.data.status != "checking", 60, what="database check")
    await pilot.pause(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("host,port", [("127.0.0.1", None), ("no-such-host.invalid", 8123)],
                         ids=["refused-port", "unknown-host"])
async def test_unreachable_server_shows_a_panel_naming_the_setting(tmp_path, host, port):
    db = DatabaseSettings(mode="server", host=host, port=port or free_port(), connect_timeout=3)
    app = IonisApp(make_settings(tmp_path, db))
    async with app.run_test(size=(80, 24)) as pilot:
        notes = recorded_notifications(app)
        await checked(pilot, app)
        d = app.state.data
        assert d.status == "error" and d.setting == "database.host" and host in d.message
        text = screen_text(app)
        assert "database problem" in text and "fix: database.host" in text
        assert f"server {host}:{db.port} wspr.signatures_v2_terrestrial" in text  # which server
        await pilot.press("s")  # refused with a reason, no run started
        assert app.runner.session is None
        assert any("cannot start" in n for n in notes)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)  # the app is alive


async def test_wrong_column_types_show_a_panel_and_a_fix_can_be_rechecked(tmp_path, chdb_path):
    db = DatabaseSettings(path=chdb_path, table="sig_test_app_types")
    client = connect(db)
    client.command(f"DROP TABLE IF EXISTS {db.qualified_table}")
    client.command(f"CREATE DATABASE IF NOT EXISTS `{db.database}`")
    client.command(create_table_sql(db).replace("`band` Int32", "`band` String"))
    app = IonisApp(make_settings(tmp_path, db))
    async with app.run_test(size=(80, 24)) as pilot:
        await checked(pilot, app)
        d = app.state.data
        assert d.status == "error" and d.setting == "database.table"
        assert "band is String" in d.message
        assert "fix: database.table" in screen_text(app)
        # The user fixes the table and presses g: the panel follows.
        client.command(f"DROP TABLE {db.qualified_table}")
        client.command(create_table_sql(db))
        await pilot.press("g")
        await checked(pilot, app)
        assert app.state.data.status == "empty"
    client.command(f"DROP TABLE IF EXISTS {db.qualified_table}")


async def test_empty_table_offers_demo_data(tmp_path, chdb_path):
    db = DatabaseSettings(path=chdb_path, table="sig_test_app_empty")
    client = connect(db)
    client.command(f"CREATE DATABASE IF NOT EXISTS `{db.database}`")
    client.command(create_table_sql(db))
    app = IonisApp(make_settings(tmp_path, db))
    async with app.run_test(size=(80, 24)) as pilot:
        notes = recorded_notifications(app)
        await checked(pilot, app)
        assert app.state.data.status == "empty" and app.state.data.rows == 0
        text = screen_text(app)
        assert "database empty" in text and "no usable rows" in text and "press d to seed 3,000" in text
        await pilot.press("s")
        assert app.runner.session is None
        assert any("press d to seed" in n for n in notes)
    client.command(f"DROP TABLE IF EXISTS {db.qualified_table}")


@pytest.mark.slow  # trains
async def test_missing_table_is_seeded_then_trained_on(tmp_path, chdb_path):
    db = DatabaseSettings(path=chdb_path, table="sig_test_app_seed")
    connect(db).command(f"DROP TABLE IF EXISTS {db.qualified_table}")
    app = IonisApp(make_settings(tmp_path, db, epochs=2, batch_size=1024, limit_rows=2000))
    async with app.run_test(size=(80, 24)) as pilot:
        await checked(pilot, app)
        assert app.state.data.status == "empty" and "has no table" in app.state.data.message
        assert "press d to seed" in screen_text(app)

        await pilot.press("d")
        assert app.state.data.status in ("seeding", "ok")
        await wait_until(pilot, lambda: app.state.data.status == "ok", 120, what="seeded")
        rows = count_rows(connect(db), db)
        assert app.state.data.rows == rows > 0
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "database empty" not in text and f"embedded wspr.sig_test_app_seed · {rows:,} rows" in text

        await pilot.press("s")  # now a run loads its rows from the database
        await wait_until(pilot, lambda: app.state.state == ev.FINISHED, 120, what="finished")
        assert app.state.rows_train + app.state.rows_val == 2000
        assert any(line.text.startswith("data: 2,000 rows loaded") for line in app.state.log)
        # the checkpoint remembers the rows were demo data, so verification applies the truth
        best = load_model(app.runner.session.run_dir / "best.safetensors")
        assert best.meta["data_provenance"]["kind"] == "demo" and truth_applies(best)[0]
        assert best.meta["data_table"] == f"{db.database}.{db.table}"
    connect(db).command(f"DROP TABLE IF EXISTS {db.qualified_table}")


@pytest.mark.slow  # trains
async def test_start_pressed_during_the_database_check_waits_for_it_then_starts(tmp_path, chdb_path):
    """Issue 21 item 5: `s` while the start-up check is still running is kept (said in the
    event log), and the run starts when the check has answered; it used to be refused."""
    from engine.data import client as dbclient
    from ionis_tui import datasource

    db = DatabaseSettings(path=chdb_path, table="sig_test_app_early_start")
    assert datasource.seed(db, 2000, 7).status == "ok"
    app = IonisApp(make_settings(tmp_path, db, epochs=1, batch_size=1024))
    dbclient._lock.acquire()  # another thread is opening the database: the check must wait
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            assert app.state.data.status == "checking"
            await pilot.press("s")
            assert app.state.data.status == "checking" and app.state.state == ev.IDLE
            assert any(ln.text.startswith("start requested") for ln in app.state.log)
            dbclient._lock.release()
            await wait_until(pilot, lambda: app.state.state == ev.FINISHED, 120, what="the run")
            assert app.state.rows_train + app.state.rows_val == 2000
            assert not any("cannot start" in ln.text for ln in app.state.log)
    finally:
        if dbclient._lock.locked():
            dbclient._lock.release()
        connect(db).command(f"DROP TABLE IF EXISTS {db.qualified_table}")


async def test_a_key_that_cannot_act_now_is_answered_in_the_event_log(tmp_path):
    """Issue 21 item 5: keys whose action does not apply (hidden or dimmed in the footer) used
    to be dropped without a word; each now says why in the event log."""
    from engine.train.synthetic import synthetic_rows

    app = IonisApp(make_settings(tmp_path, DatabaseSettings(path=str(tmp_path / "db")), epochs=1),
                   rows=synthetic_rows(500, seed=1))  # data ready at once, no run yet
    async with app.run_test(size=(80, 24)) as pilot:
        for key, said in (("p", "no run is active"), ("c", "no run is active"),
                          ("d", "demo data is offered only when"), ("b", "nothing to build from")):
            seq = app.state.log_seq
            await pilot.press(key)
            new = [ln.text for ln in list(app.state.log)[-(app.state.log_seq - seq):]] if app.state.log_seq > seq else []
            assert any(said in t for t in new), f"{key!r}: {new}"
