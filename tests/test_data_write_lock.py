"""One writer per table (engine/data/write_lock.py), on real chdb: a second writer of a table
being written is refused naming the first and changes nothing; a lock left by a killed
command on this host is taken over; one held on another host is named with the way to clear
it; the lock goes with the command however it ends."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest
from spots_fixtures import ARCHIVE, N, other_spots

import engine.data.ingest as ingest
from engine.cli import main
from engine.data.client import connect
from engine.data.ingest import ingest_files
from engine.data.write_lock import lock_table, write_lock
from engine.demo.seed import seed_demo
from engine.errors import DataError, InputError
from engine.settings import DatabaseSettings

DATABASE = "write_lock"


@pytest.fixture
def db(chdb_path, request) -> DatabaseSettings:
    d = DatabaseSettings(path=chdb_path, database=DATABASE, table=f"sig_{request.node.name[5:25]}")
    client = connect(d)
    client.command(f"DROP DATABASE IF EXISTS `{DATABASE}` SYNC")
    return d


def _tables(client) -> set[str]:
    return {r[0] for r in client.query("SELECT name FROM system.tables WHERE database = {d:String}",
                                       parameters={"d": DATABASE}).result_rows}


def _spots(client) -> int:
    return int(client.query(f"SELECT count() FROM `{DATABASE}`.spots").result_rows[0][0])


def _plant_lock(client, table: str, **holder) -> None:
    """A lock as another command would have left it (its own format: a table and a comment)."""
    text = json.dumps({"command": "data ingest", "since": "2026-12-03 10:00:00", **holder})
    client.command(f"CREATE TABLE `{DATABASE}`.`{lock_table(table)}` (held UInt8) ENGINE = Memory "
                   f"COMMENT '{text}'")


def test_a_second_ingest_while_one_writes_is_refused_and_loses_nothing(db, tmp_path, monkeypatch):
    """The race that lost spots: ingest B starts while ingest A is between its copy of the spots
    table and its swap. Without the lock B shared A's staging tables and the later swap won."""
    client = connect(db)
    other = other_spots(tmp_path / "other.csv")
    seen: list[Exception] = []

    def second_writer(name: str) -> None:
        if name == "ingest.move" and not seen:
            try:
                ingest_files(client, db, [other])
            except DataError as exc:
                seen.append(exc)
            else:
                seen.append(AssertionError("the second ingest ran while the first was writing"))

    monkeypatch.setattr(ingest, "test_point", second_writer)
    report = ingest_files(client, db, [ARCHIVE])
    assert len(seen) == 1 and isinstance(seen[0], DataError), seen
    assert "being written by `data ingest`" in str(seen[0]) and "write_lock.spots" in str(seen[0])
    assert report.rows_added == N and _spots(client) == N
    assert lock_table("spots") not in _tables(client)          # released
    monkeypatch.undo()
    assert ingest_files(client, db, [other]).rows_added == N        # afterwards it runs
    assert _spots(client) == 2 * N


def test_seeding_while_a_build_holds_the_table_is_refused_and_the_table_unchanged(db):
    client = connect(db)
    seed_demo(client, db, 300, seed=1)
    before = client.query(f"SELECT count(), sum(median_snr) FROM {db.qualified_table}").result_rows
    with write_lock(client, db, db.table, "data build"):
        with pytest.raises(DataError, match=r"being written by `data build`"):
            seed_demo(client, db, 500, seed=2)
    assert client.query(f"SELECT count(), sum(median_snr) FROM {db.qualified_table}").result_rows == before
    assert lock_table(db.table) not in _tables(client)


def test_a_lock_left_by_a_killed_command_on_this_host_is_taken_over(db, tmp_path, capsys):
    client = connect(db)
    client.command(f"CREATE DATABASE IF NOT EXISTS `{DATABASE}`")
    dead = subprocess.Popen(["true"])
    dead.wait()                                  # reaped: its pid no longer runs
    _plant_lock(client, "spots", host=socket.gethostname(), pid=dead.pid)
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'[database]\npath = "{db.path}"\ndatabase = "{DATABASE}"\n')
    assert main(["--config", str(cfg), "data", "ingest", str(ARCHIVE)]) == 0, capsys.readouterr().err
    assert _spots(client) == N and lock_table("spots") not in _tables(client)


def test_a_lock_held_on_another_host_is_named_with_the_way_to_clear_it(db, tmp_path, capsys):
    client = connect(db)
    client.command(f"CREATE DATABASE IF NOT EXISTS `{DATABASE}`")
    _plant_lock(client, "spots", host="studio.local", pid=4242)
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'[database]\npath = "{db.path}"\ndatabase = "{DATABASE}"\n')
    assert main(["--config", str(cfg), "data", "ingest", str(ARCHIVE)]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "pid 4242 on studio.local" in err
    assert f"drop table {DATABASE}.spots__lock" in err
    assert "spots" not in _tables(client) or _spots(client) == 0
    client.command(f"DROP TABLE `{DATABASE}`.spots__lock")
    assert main(["--config", str(cfg), "data", "ingest", str(ARCHIVE)]) == 0
    assert _spots(client) == N


def test_the_lock_goes_with_a_refused_command(db, tmp_path):
    client = connect(db)
    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,spot,file\n" * 5)
    with pytest.raises(InputError):
        ingest_files(client, db, [bad])
    assert lock_table("spots") not in _tables(client)


def test_data_status_names_the_command_writing_a_table(db, tmp_path, capsys):
    client = connect(db)
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'[database]\npath = "{db.path}"\ndatabase = "{DATABASE}"\ntable = "{db.table}"\n')
    assert main(["--config", str(cfg), "data", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["writers"] == {}
    with write_lock(client, db, db.table, "data build"):
        assert main(["--config", str(cfg), "data", "status", "--json"]) == 0
        held = json.loads(capsys.readouterr().out)["writers"][f"{DATABASE}.{db.table}"]
        assert held["command"] == "data build" and held["host"] == socket.gethostname()
        assert main(["--config", str(cfg), "data", "status"]) == 0
        assert f"writing     {DATABASE}.{db.table}: `data build` (pid " in capsys.readouterr().out
    assert main(["--config", str(cfg), "data", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["writers"] == {}
