"""Connecting, schema creation/checking, and every database failure becoming a DataError that
names the setting to fix. Server-mode failures use loopback only (no real server here)."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from engine.data.client import connect, translate
from engine.data.loader import count_rows, load_rows
from engine.data.schema import SCHEMA, check_schema, ensure_table, table_columns
from engine.errors import DataError
from engine.settings import DatabaseSettings


@pytest.fixture(scope="module")
def db(chdb_path) -> DatabaseSettings:
    return DatabaseSettings(path=chdb_path, database="h1_client", table="sig_test_client")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_embedded_client_is_cached_per_process(db):
    c1 = connect(db)
    c2 = connect(db.model_copy(update={"table": "other"}))  # same engine path -> same client
    assert c1 is c2
    assert c1.query("SELECT 1").result_rows == [(1,)]


def test_ensure_table_creates_documented_schema_and_is_idempotent(db):
    client = connect(db)
    ensure_table(client, db)
    ensure_table(client, db)
    assert table_columns(client, db) == SCHEMA
    assert check_schema(client, db) == SCHEMA
    order = client.query("SELECT sorting_key FROM system.tables WHERE database = {d:String} AND "
                         "name = {t:String}", parameters={"d": db.database, "t": db.table})
    assert order.result_rows[0][0] == "band, hour, tx_grid_4, rx_grid_4"


def test_missing_database_names_setting_and_suggests_seed(chdb_path):
    db = DatabaseSettings(path=chdb_path, database="h1_no_such_db", table="sig_x")
    with pytest.raises(DataError) as e:
        count_rows(connect(db), db)
    assert e.value.setting == "database.database"
    assert "h1_no_such_db" in str(e.value) and "ionis-tui data seed" in str(e.value)


def test_missing_table_names_setting(db):
    missing = db.model_copy(update={"table": "sig_test_missing"})
    ensure_table(connect(db), db)  # the database exists, the table does not
    with pytest.raises(DataError) as e:
        load_rows(connect(missing), missing)
    assert e.value.setting == "database.table"
    assert "sig_test_missing" in str(e.value) and "does not exist" in str(e.value)


def test_empty_table_is_a_clear_error(db):
    empty = db.model_copy(update={"table": "sig_test_empty"})
    client = connect(empty)
    ensure_table(client, empty)
    assert count_rows(client, empty) == 0
    with pytest.raises(DataError) as e:
        load_rows(client, empty)
    assert "no usable rows" in str(e.value) and "data seed" in str(e.value)
    assert e.value.setting == "database.table"


def test_wrong_column_types_are_listed(db):
    bad = db.model_copy(update={"table": "sig_test_badtypes"})
    client = connect(bad)
    client.command(f"DROP TABLE IF EXISTS {bad.qualified_table}")
    client.command(
        f"CREATE TABLE {bad.qualified_table} (tx_grid_4 UInt32, rx_grid_4 FixedString(4), "
        f"band Int32, hour UInt8, month UInt8, median_snr String, spot_count UInt32, "
        f"avg_sfi Float64, avg_kp Nullable(Float32)) ENGINE = MergeTree ORDER BY band")
    with pytest.raises(DataError) as e:
        check_schema(client, bad)
    msg = str(e.value)
    assert "tx_grid_4 is UInt32 (expected FixedString(4))" in msg
    assert "median_snr is String (expected Float32)" in msg
    # Float64 and Nullable(Float32) convert cleanly: not reported.
    assert "avg_sfi" not in msg and "avg_kp" not in msg
    assert e.value.setting == "database.table"
    with pytest.raises(DataError):
        load_rows(client, bad)


def test_missing_loader_column_is_listed(db):
    bad = db.model_copy(update={"table": "sig_test_nocol"})
    client = connect(bad)
    client.command(f"DROP TABLE IF EXISTS {bad.qualified_table}")
    client.command(f"CREATE TABLE {bad.qualified_table} (tx_grid_4 FixedString(4), "
                   f"rx_grid_4 FixedString(4), band Int32) ENGINE = MergeTree ORDER BY band")
    with pytest.raises(DataError, match="median_snr is missing"):
        count_rows(client, bad)


def test_server_refused_port_names_host_and_port():
    port = _free_port()  # nothing listens there
    db = DatabaseSettings(mode="server", host="127.0.0.1", port=port, connect_timeout=2)
    with pytest.raises(DataError) as e:
        connect(db)
    assert e.value.setting == "database.host"
    assert f"127.0.0.1:{port}" in str(e.value) and "database.port" in str(e.value)


def test_server_unknown_host_names_host():
    db = DatabaseSettings(mode="server", host="no-such-host.invalid", port=8123, connect_timeout=2)
    with pytest.raises(DataError) as e:
        connect(db)
    assert e.value.setting == "database.host"
    assert "no-such-host.invalid" in str(e.value)


class _RefusingClickHouse(http.server.BaseHTTPRequestHandler):
    """Answers every request the way a ClickHouse server answers a wrong password."""

    def _refuse(self):
        body = (b"Code: 516. DB::Exception: default: Authentication failed: password is "
                b"incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)\n")
        self.send_response(516)
        self.send_header("X-ClickHouse-Exception-Code", "516")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _refuse

    def log_message(self, *args):
        pass


def test_server_bad_credentials_name_username_and_password():
    srv = http.server.HTTPServer(("127.0.0.1", 0), _RefusingClickHouse)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        db = DatabaseSettings(mode="server", host="127.0.0.1", port=srv.server_address[1],
                              username="nobody", password="wrong", connect_timeout=2)
        with pytest.raises(DataError) as e:
            connect(db)
    finally:
        srv.shutdown()
        srv.server_close()
    assert e.value.setting == "database.username"
    assert "nobody" in str(e.value) and "database.password" in str(e.value)


def test_translate_keeps_unknown_errors_readable(db):
    err = translate(RuntimeError("Code: 999. DB::Exception: something odd happened"), db)
    assert isinstance(err, DataError)
    assert "something odd happened" in str(err) and "Code: 999" not in str(err)
