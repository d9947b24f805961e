"""`data import`: the published SQLite signature bundle into the signature table, on files
written here with exactly the published schema (tests/bundle_files.py)."""

from __future__ import annotations

import json
import math

import pytest
from bundle_files import COLUMNS, GOOD_ROW, TABLE, good_rows, write_bundle

from engine.cli import main
from engine.data.bundle_file import default_bundle_path, inspect_bundle
from engine.data.bundle_import import (
    REASONS,
    ImportCancelled,
    bundle_status,
    import_bundle,
    scratch_database,
)
from engine.data.client import connect
from engine.data.provenance import Provenance, comment_sql, read_provenance
from engine.data.schema import SCHEMA, create_table_sql
from engine.data.status import data_origin, data_status
from engine.errors import DataError, InputError
from engine.settings import DatabaseSettings

DATABASE = "imp"


def _db(chdb_path, table: str) -> DatabaseSettings:
    return DatabaseSettings(path=chdb_path, database=DATABASE, table=table)


def _config(tmp_path, chdb_path, table: str) -> str:
    p = tmp_path / "settings.toml"
    p.write_text(f'[database]\npath = "{chdb_path}"\ndatabase = "{DATABASE}"\ntable = "{table}"\n'
                 f'[train]\nbatch_size = 256\ndevice = "cpu"\nepochs = 1\n'
                 f'[runs]\ndir = "{tmp_path / "runs"}"\n')
    return str(p)


def _rows(client, db) -> list[tuple]:
    return client.query(f"SELECT * FROM {db.qualified_table} ORDER BY tuple(*)").result_rows


def _with(**changes) -> tuple:
    row = dict(zip(COLUMNS, GOOD_ROW, strict=True))
    row.update(changes)
    return tuple(row[c] for c in COLUMNS)


# One row per reason a row is kept out (REASONS order), each failing only that check.
BAD = {
    "null": [_with(median_snr=None), _with(tx_grid_4=None), _with(avg_azimuth=None)],
    "non_finite": [_with(median_snr=math.inf), _with(avg_kp=-math.inf)],
    "grid": [_with(tx_grid_4="FN2"), _with(rx_grid_4="ZZ99"), _with(rx_grid_4="IO91wm"),
             _with(tx_grid_4=1234)],
    "band": [_with(band=101), _with(band=112), _with(band=107.5), _with(band=14)],
    "hour": [_with(hour=24), _with(hour=-1), _with(hour=3.5)],
    "month": [_with(month=0), _with(month=13)],
    "spot_count": [_with(spot_count=0), _with(spot_count=-3)],
    "sfi_zero": [_with(avg_sfi=0.0)],
    # the last two: rows the loader would drop (SNR beyond +-100 dB, SFI above 1000), so an
    # import never keeps a row no run can use
    "out_of_range": [_with(avg_kp=9.5), _with(avg_sfi=-1.0), _with(avg_distance=-5.0),
                     _with(avg_azimuth=400.0), _with(reliability=1.5),
                     _with(median_snr=3e38), _with(avg_sfi=5000.0)],
}


def test_clean_bundle_imports_every_row_with_schema_types(tmp_path, chdb_path):
    rows = good_rows(500, seed=1) + [_with(tx_grid_4="fn20")]  # lower case is a valid grid
    info = inspect_bundle(write_bundle(tmp_path / "b.sqlite", rows))
    assert info.table == TABLE and info.rowid_span == 501
    db = _db(chdb_path, "clean")
    client = connect(db)
    rep = import_bundle(client, db, info, streams=2)
    assert (rep.read, rep.rows) == (501, 501) and not any(rep.excluded.values())
    types = dict(client.query(
        "SELECT name, type FROM system.columns WHERE database = {d:String} AND table = {t:String}",
        parameters={"d": DATABASE, "t": "clean"}).result_rows)
    assert types == SCHEMA
    got = _rows(client, db)
    want = sorted((r[0].upper().encode(), r[1].upper().encode(), *r[2:]) for r in rows)
    assert len(got) == len(want)
    floats = [COLUMNS.index(c) for c in ("median_snr", "snr_std", "reliability", "avg_sfi",
                                         "avg_kp")]
    for g, w in zip(got, want, strict=True):
        assert g[:5] == w[:5] and g[6] == w[6] and g[11:] == (round(w[11]), round(w[12]) % 360)
        assert all(abs(g[i] - w[i]) <= 1e-6 * max(1.0, abs(w[i])) for i in floats), (g, w)
    prov = read_provenance(client, db)
    assert prov.kind == "bundle" and prov.params["rows"] == 501 and prov.params["size"] == info.size
    assert bundle_status(client, db)["file"] == str(info.path)
    # No scratch database or staging table is left behind.
    names = {r[0] for r in client.query("SELECT name FROM system.databases").result_rows}
    assert scratch_database(db) not in names
    tables = {r[0] for r in client.query("SELECT name FROM system.tables WHERE database = 'imp'")
              .result_rows}
    assert "clean__import" not in tables


def test_bad_rows_are_kept_out_and_counted_by_reason(tmp_path, chdb_path):
    good = good_rows(50, seed=2)
    bad = [r for rows in BAD.values() for r in rows]
    info = inspect_bundle(write_bundle(tmp_path / "bad.sqlite", good + bad))
    db = _db(chdb_path, "bad")
    client = connect(db)
    rep = import_bundle(client, db, info)
    assert rep.excluded == {k: len(v) for k, v in BAD.items()}
    assert list(rep.excluded) == list(REASONS)
    assert (rep.read, rep.rows) == (len(good) + len(bad), len(good))
    assert len(_rows(client, db)) == len(good)
    st = data_status(client, db)
    assert st["bundle"]["excluded"] == rep.excluded and st["usable_rows"] == len(good)


def _old_table(client, db) -> list[tuple]:
    """A target holding rows an earlier import wrote (so replacing it is allowed)."""
    client.command(f"CREATE DATABASE IF NOT EXISTS `{DATABASE}`")
    client.command(f"DROP TABLE IF EXISTS {db.qualified_table}")
    client.command(create_table_sql(db))
    client.command(f"INSERT INTO {db.qualified_table} VALUES ('JO01','PM95',105,3,1,-20.5,7,"
                   f"2.0,0.5,90.0,1.0,9000,30)")
    _mark(client, db, "bundle", written_at="2026-01-01T00:00:00Z")
    return _rows(client, db)


def _mark(client, db, kind: str, **params) -> None:
    """Give the table a provenance as if `kind`'s command had written it."""
    client.command(f"ALTER TABLE {db.qualified_table} MODIFY COMMENT "
                   f"{comment_sql(Provenance(kind, params))}")


def _files(tmp_path) -> dict[str, tuple]:
    """Broken inputs -> (path, words the message must hold)."""
    notsql = tmp_path / "notes.sqlite"
    notsql.write_text("tx_grid_4,rx_grid_4\nFN20,IO91\n" * 50)
    other = write_bundle(tmp_path / "other.sqlite", [(1, 2)], table="stations",
                         create="CREATE TABLE stations (call TEXT, grid TEXT)")
    empty = write_bundle(tmp_path / "empty.sqlite", [])
    missing = write_bundle(tmp_path / "missing.sqlite", [GOOD_ROW[:-1]],
                           create=f"CREATE TABLE {TABLE} (tx_grid_4 TEXT, rx_grid_4 TEXT, band "
                                  f"INTEGER, hour INTEGER, month INTEGER, median_snr REAL, "
                                  f"spot_count INTEGER, snr_std REAL, reliability REAL, avg_sfi "
                                  f"REAL, avg_kp REAL, avg_distance REAL)")
    rbn = write_bundle(tmp_path / "b2.sqlite", good_rows(5), table="rbn_signatures")
    loud = write_bundle(tmp_path / "loud.sqlite",
                        [_with(median_snr=15.0 + i % 10) for i in range(40)])
    allbad = write_bundle(tmp_path / "allbad.sqlite", BAD["sfi_zero"] + BAD["band"])
    text = write_bundle(tmp_path / "text.sqlite",
                        good_rows(20) + [_with(hour="three")] * 3 + [_with(avg_kp=b"\x01")])
    return {
        "not sqlite": (notsql, ["is not a SQLite file"]),
        "no file": (tmp_path / "nope.sqlite", ["no such file", "ionis-download"]),
        "no signature table": (other, ["holds no signature table", "stations"]),
        "empty table": (empty, ["holds no rows"]),
        "missing column": (missing, ["lacks the signature column(s) avg_azimuth"]),
        "other source": (rbn, ["RBN bundle", "SNR scales"]),
        "not wspr snr": (loud, ["averages +19.5 dB", "not a WSPR bundle"]),
        "nothing usable": (allbad, ["none of the 5 rows is usable", "sfi_zero 1", "band 4"]),
        "text in numbers": (text, ["hold text (hour in 3, avg_kp in 1 of the first"]),
    }


def test_broken_files_exit_2_with_one_line_and_old_table_intact(tmp_path, chdb_path, capsys):
    db = _db(chdb_path, "keep")
    client = connect(db)
    before = _old_table(client, db)
    cfg = _config(tmp_path, chdb_path, "keep")
    for case, (path, words) in _files(tmp_path).items():
        assert main(["--config", cfg, "data", "import", str(path)]) == 2, case
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("error: "), (case, err)
        assert all(w in err for w in words), (case, err)
        assert _rows(client, db) == before, case
    assert scratch_database(db) not in {
        r[0] for r in client.query("SELECT name FROM system.databases").result_rows}


def test_from_table_and_several_tables(tmp_path):
    p = write_bundle(tmp_path / "two.sqlite", good_rows(3), table="sig_a")
    import sqlite3

    con = sqlite3.connect(p)
    con.execute("CREATE TABLE sig_b AS SELECT * FROM sig_a")
    con.commit()
    con.close()
    with pytest.raises(InputError, match="several signature tables .*--from-table"):
        inspect_bundle(p)
    assert inspect_bundle(p, "sig_b").table == "sig_b"
    with pytest.raises(InputError, match="no table 'nope'"):
        inspect_bundle(p, "nope")


def test_cancel_leaves_old_table_and_no_leftovers(tmp_path, chdb_path):
    db = _db(chdb_path, "cancel")
    client = connect(db)
    before = _old_table(client, db)
    info = inspect_bundle(write_bundle(tmp_path / "c.sqlite", good_rows(100)))
    with pytest.raises(ImportCancelled, match="unchanged"):
        import_bundle(client, db, info, cancel=lambda: True)
    assert _rows(client, db) == before
    assert read_provenance(client, db) == Provenance("bundle", {"written_at": "2026-01-01T00:00:00Z"})


def test_foreign_table_needs_force_and_demo_label_goes(tmp_path, chdb_path):
    db = _db(chdb_path, "foreign")
    client = connect(db)
    _old_table(client, db)
    _mark(client, db, "spots")
    info = inspect_bundle(write_bundle(tmp_path / "f.sqlite", good_rows(20)))
    with pytest.raises(DataError, match="--force"):
        import_bundle(client, db, info)
    # A demo table is replaced without --force, and stops being demo data afterwards.
    _mark(client, db, "demo", seed=7)
    assert data_origin(client, db)["data_provenance"]["kind"] == "demo"
    import_bundle(client, db, info)
    origin = data_origin(client, db)
    assert origin["data_provenance"]["kind"] == "bundle"
    assert "imported from the IONIS signature bundle" in origin["data_source"]
    assert data_status(client, db)["demo"] is None


def test_default_path_and_cli_json(tmp_path, chdb_path, capsys, monkeypatch):
    monkeypatch.setenv("IONIS_DATA_DIR", str(tmp_path / "mcp"))
    path = default_bundle_path()
    assert path == tmp_path / "mcp" / "propagation" / "wspr-signatures" / "wspr_signatures_v2.sqlite"
    cfg = _config(tmp_path, chdb_path, "cli")
    assert main(["--config", cfg, "data", "import"]) == 2
    assert "no bundle at" in capsys.readouterr().err
    path.parent.mkdir(parents=True)
    write_bundle(path, good_rows(30) + BAD["grid"])
    assert main(["--config", cfg, "data", "import", "--json", "--table", "cli_json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["rows"], out["read"], out["excluded"]["grid"]) == (30, 34, 4)
    assert out["table"] == "imp.cli_json"
    assert main(["--config", cfg, "data", "import", "--table", "bad-name", str(path)]) == 2
    assert "--table" in capsys.readouterr().err
    monkeypatch.setenv("IONIS_DATABASE__TABLE", "cli_json")
    assert main(["--config", cfg, "data", "status"]) == 0
    out = capsys.readouterr().out
    assert "imported from the IONIS signature bundle" in out and "excluded grid 4" in out


@pytest.mark.usefixtures("one_torch_thread")
def test_train_verify_matrix_on_an_imported_bundle(tmp_path, chdb_path, capsys):
    path = write_bundle(tmp_path / "t.sqlite", good_rows(3000, seed=5) + BAD["sfi_zero"])
    cfg = _config(tmp_path, chdb_path, "trained")
    assert main(["--config", cfg, "data", "import", str(path)]) == 0
    capsys.readouterr()
    run = tmp_path / "run"
    assert main(["--config", cfg, "train", "--headless", "--epochs", "1", "--run-dir",
                 str(run)]) == 0
    out, err = capsys.readouterr()
    assert "3,000 rows loaded" in err, err
    assert [ln.split()[1] for ln in out.splitlines() if ln.startswith("epoch ")] == ["1/1"]
    ckpt = run / "best.safetensors"
    assert ckpt.is_file()
    from safetensors import safe_open

    with safe_open(str(ckpt), "pt") as f:  # the checkpoint says where its rows came from
        assert "(imported from the IONIS signature bundle)" in f.metadata()["data_source"]
    assert main(["verify", "--checkpoint", str(ckpt), "--json", "--group", "physics"]) in (0, 1)
    assert {i["group"] for i in json.loads(capsys.readouterr().out)} == {"physics"}
    assert main(["matrix", "--checkpoint", str(ckpt), "--tx", "W3", "--rx", "G", "--band", "20m",
                 "--hour", "12", "--month", "6", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["values"]) == len(d["sfi"]) and all(math.isfinite(v) for r in d["values"] for v in r)


def test_without_rowid_table_is_read_in_one_stream(tmp_path, chdb_path):
    create = (f"CREATE TABLE {TABLE} (tx_grid_4 TEXT, rx_grid_4 TEXT, band INTEGER, hour "
              f"INTEGER, month INTEGER, median_snr REAL, spot_count INTEGER, snr_std REAL, "
              f"reliability REAL, avg_sfi REAL, avg_kp REAL, avg_distance REAL, avg_azimuth REAL, "
              f"PRIMARY KEY (tx_grid_4, rx_grid_4, band, hour, month)) WITHOUT ROWID")
    rows = {r[:5]: r for r in good_rows(200, seed=8)}  # unique keys
    info = inspect_bundle(write_bundle(tmp_path / "wr.sqlite", list(rows.values()) + BAD["band"][:1],
                                       create=create))
    assert info.rowid_min is None
    db = _db(chdb_path, "norowid")
    rep = import_bundle(connect(db), db, info, streams=3)
    assert (rep.rows, rep.excluded["band"]) == (len(rows), 1)


def test_ctrl_c_stops_after_the_chunk_and_keeps_the_old_table(tmp_path, chdb_path, capsys,
                                                               monkeypatch, sigint_as):
    import os
    import signal

    import engine.cli.import_cmd as import_cmd
    import engine.data.bundle_import as bundle_import

    db = _db(chdb_path, "sigint")
    client = connect(db)
    before = _old_table(client, db)
    path = write_bundle(tmp_path / "s.sqlite", good_rows(300))
    monkeypatch.setattr(bundle_import, "CHUNK_ROWS", 10)

    def printer():  # the user presses Ctrl-C once the first rows are in
        return lambda done, total: os.kill(os.getpid(), signal.SIGINT) if done else None

    monkeypatch.setattr(import_cmd, "_progress_printer", printer)
    assert main(["--config", _config(tmp_path, chdb_path, "sigint"), "data", "import",
                 str(path)]) == 130
    err = capsys.readouterr().err
    assert "stopping the import" in err and "imp.sigint is unchanged" in err
    assert _rows(client, db) == before
    assert signal.getsignal(signal.SIGINT) is sigint_as


@pytest.mark.parametrize("sigint_as", [__import__("signal").SIG_IGN], indirect=True)
def test_an_ignored_ctrl_c_stays_ignored(tmp_path, chdb_path, capsys, monkeypatch, sigint_as):
    """A job started with `&` from a script has SIGINT ignored: the import must not take it
    back (a Ctrl-C meant for the script would stop it) and completes."""
    import os
    import signal

    import engine.cli.import_cmd as import_cmd
    import engine.data.bundle_import as bundle_import

    path = write_bundle(tmp_path / "i.sqlite", good_rows(300))
    monkeypatch.setattr(bundle_import, "CHUNK_ROWS", 10)
    monkeypatch.setattr(import_cmd, "_progress_printer",
                        lambda: lambda done, total: os.kill(os.getpid(), signal.SIGINT) if done else None)
    assert main(["--config", _config(tmp_path, chdb_path, "ignored"), "data", "import", str(path)]) == 0
    assert "stopping the import" not in capsys.readouterr().err
    assert len(_rows(connect(_db(chdb_path, "ignored")), _db(chdb_path, "ignored"))) == 300
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
