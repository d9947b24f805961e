"""data_status and the `ionis-tui data seed|status` commands, on real chdb."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.cli import main
from engine.data.client import connect
from engine.data.schema import SCHEMA, ensure_table
from engine.data.status import data_status
from engine.demo.seed import seed_demo
from engine.demo.space_weather import observed_days
from engine.errors import DataError
from engine.settings import DatabaseSettings


def test_status_of_demo_table(chdb_path):
    db = DatabaseSettings(path=chdb_path, table="sig_test_status")
    client = connect(db)
    seed_demo(client, db, 2500, seed=2, force=True)
    st = data_status(client, db)
    assert st["mode"] == "embedded" and st["source"] == chdb_path
    assert st["table"] == "wspr.sig_test_status"
    assert st["row_count"] == st["usable_rows"] == 2500 and st["malformed_rows"] == 0
    assert sum(st["band_rows"].values()) == 2500 and set(st["band_rows"]) <= {
        "160m", "80m", "60m", "40m", "30m", "20m", "17m", "15m", "12m", "10m"}
    assert 60 < st["sfi_min"] <= st["sfi_max"] and 0 <= st["kp_min"] <= st["kp_max"] <= 9
    assert st["spots"] >= 5 * 2500
    assert st["demo"]["seed"] == 2 and st["newest_data"] == observed_days().last
    json.dumps(st)  # plain JSON-able values only


def test_status_of_foreign_table_has_no_dates(chdb_path):
    db = DatabaseSettings(path=chdb_path, table="sig_test_status_real")
    client = connect(db)
    ensure_table(client, db)
    client.command(f"TRUNCATE TABLE {db.qualified_table}")
    client.insert(db.table, [[b"FN20", b"FN20"], [b"IO91", b"XX00"], [107, 107], [14, 3],
                             [6, 7], [-15.0, -9.0], [10, 7], [2.0, 2.0], [0.5, 0.5],
                             [150.0, 120.0], [2.0, 3.0], [5880, 5880], [50, 50]],
                  column_names=list(SCHEMA), column_oriented=True, database=db.database)
    st = data_status(client, db)
    assert st["row_count"] == 2 and st["usable_rows"] == 1
    assert st["malformed_reasons"] == {"grid": 1}
    assert st["newest_data"] is None and "months only" in st["newest_data_note"]
    assert st["demo"] is None and st["band_rows"] == {"20m": 1}
    assert st["sfi_min"] == st["sfi_max"] == 150.0


def test_status_missing_table_is_data_error(chdb_path):
    db = DatabaseSettings(path=chdb_path, database="h1_status_nodb", table="x")
    with pytest.raises(DataError, match="data seed"):
        data_status(connect(db), db)


@pytest.fixture()
def config(tmp_path, chdb_path):
    p = tmp_path / "settings.toml"
    p.write_text(f'[database]\npath = "{chdb_path}"\ntable = "sig_test_cli"\n'
                 f'[demo]\nrows = 1500\nseed = 4\n', encoding="utf-8")
    return str(p)


def test_cli_seed_then_status(config, capsys, chdb_path):
    assert main(["--config", config, "data", "seed", "--force"]) == 0
    out = capsys.readouterr()
    assert "wrote 1,500 signatures to wspr.sig_test_cli" in out.out
    assert "seeding" in out.err and "100.0%" in out.err
    assert main(["--config", config, "data", "status", "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["row_count"] == 1500 and st["demo"]["seed"] == 4
    # The paths in use, absolute: the file given, the database in it, runs in the user folder.
    assert st["paths"]["settings"] == str(Path(config).resolve())
    assert st["paths"]["database"] == str(Path(chdb_path).resolve())
    assert st["paths"]["runs"] == str((Path(os.environ["IONIS_DATA_DIR"]) / "runs").resolve())
    assert main(["--config", config, "data", "status"]) == 0
    text = capsys.readouterr().out
    assert "rows        1,500" in text and "newest data" in text and "SFI" in text
    assert f"database    {Path(chdb_path).resolve()}" in text


def test_cli_seed_options_and_errors(config, capsys, monkeypatch):
    assert main(["--config", config, "data", "seed", "--rows", "800", "--seed", "9"]) == 0
    assert "wrote 800 signatures" in capsys.readouterr().out
    assert main(["--config", config, "data", "seed", "--rows", "0"]) == 2
    assert "error: --rows must be >= 1" in capsys.readouterr().err
    monkeypatch.setenv("IONIS_DATABASE__DATABASE", "h1_cli_nodb")
    # it could look: the missing database is reported, not an error
    assert main(["--config", config, "data", "status"]) == 0
    assert "h1_cli_nodb.sig_test_cli" in capsys.readouterr().out
    monkeypatch.setenv("IONIS_DATABASE__MODE", "server")
    monkeypatch.setenv("IONIS_DATABASE__HOST", "no-such-host.invalid")
    assert main(["--config", config, "data", "status"]) == 2
    assert "cannot reach the ClickHouse server at no-such-host.invalid" in capsys.readouterr().err
