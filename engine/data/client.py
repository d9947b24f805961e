"""One ClickHouse client per process: HTTP to a server, or chdb embedded in this process.

Every failure of the driver is turned into a DataError that names the settings key to fix,
so callers (CLI, app, trainer) only ever catch `engine.errors.DataError`.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.errors import DataError
from engine.settings import DatabaseSettings

# clickhouse-connect logs "Unexpected Http Driver Exception" to stderr before raising; every
# such error reaches the user translated into a DataError, so the raw log line is only noise
# (and would scribble over the TUI's screen).
logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)

# ClickHouse error codes we translate (src/Common/ErrorCodes.cpp).
_UNKNOWN_TABLE = 60
_UNKNOWN_DATABASE = 81
_AUTH_CODES = {192, 193, 194, 516}  # UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, AUTHENTICATION_FAILED
_AUTH_WORDS = ("AUTHENTICATION_FAILED", "WRONG_PASSWORD", "UNKNOWN_USER", "REQUIRED_PASSWORD",
               "Authentication failed")
_UNREACHABLE_WORDS = ("Connection refused", "Failed to resolve", "Name or service not known",
                      "NameResolutionError", "timed out", "ConnectTimeoutError", "ReadTimeoutError",
                      "No route to host",
                      "Temporary failure in name resolution", "Network is unreachable",
                      "Failed to establish a new connection", "Connection reset", "RemoteDisconnected")

_abandoned = [0]  # bumped by abandon_waits(): every wait begun before it ends at once
_lock = threading.Lock()
_clients: dict[tuple, Any] = {}  # settings key -> client; at most one embedded entry


def _key(db: DatabaseSettings) -> tuple:
    if db.mode == "embedded":
        return ("embedded", str(Path(db.path).expanduser().resolve()))
    return ("server", db.host, db.port, db.username, db.password, db.secure, db.connect_timeout)


def where(db: DatabaseSettings) -> str:
    """Human description of the data source: 'embedded data/ionis.chdb' or 'server host:port'."""
    if db.mode == "embedded":
        return f"embedded database {db.path}"
    scheme = "https" if db.secure else "http"
    return f"ClickHouse server {scheme}://{db.host}:{db.port}"


def translate(exc: BaseException, db: DatabaseSettings) -> DataError:
    """Map a driver/engine exception to a DataError naming the setting to look at."""
    if isinstance(exc, DataError):
        return exc
    text = str(exc)
    code = getattr(exc, "code", None)
    if db.mode == "server" and any(w in text for w in _UNREACHABLE_WORDS):
        return DataError(
            f"cannot reach the ClickHouse server at {db.host}:{db.port} "
            f"({_short_cause(text)}); check database.host / database.port "
            f"(or switch database.mode to \"embedded\")",
            setting="database.host")
    if code in _AUTH_CODES or any(w in text for w in _AUTH_WORDS):
        return DataError(
            f"the ClickHouse server at {db.host}:{db.port} refused user {db.username!r}: "
            f"check database.username / database.password",
            setting="database.username")
    if code == _UNKNOWN_DATABASE or "UNKNOWN_DATABASE" in text:
        return missing_table_error(db, database_missing=True)
    if code == _UNKNOWN_TABLE or "UNKNOWN_TABLE" in text:
        return missing_table_error(db, database_missing=False)
    if db.mode == "embedded" and "Unable to open the chdb engine" in text:
        return DataError(
            f"cannot open the embedded database at {db.path}: another process (a second "
            f"ionis-tui?) may be using it, or the folder is not writable; check database.path",
            setting="database.path")
    return DataError(f"{where(db)}: {_short_cause(text)}")


def missing_table_error(db: DatabaseSettings, database_missing: bool) -> DataError:
    what = (f"database {db.database!r} does not exist" if database_missing
            else f"table {db.database}.{db.table} does not exist")
    hint = ("; run `ionis-tui data seed` to create demo data" if db.mode == "embedded"
            else "; check database.database / database.table")
    return DataError(f"{where(db)}: {what}{hint}",
                     setting="database.database" if database_missing else "database.table")


def _short_cause(text: str) -> str:
    # Driver messages embed query ids, URLs and retry noise; keep the first meaningful line.
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    for marker in ("Caused by ", "DB::Exception: "):
        if marker in first:
            first = first.split(marker, 1)[1]
    return first[:300]


@contextmanager
def translating(db: DatabaseSettings) -> Iterator[None]:
    """`with translating(db): client.query(...)` re-raises any driver error as a DataError."""
    try:
        yield
    except DataError:
        raise
    except Exception as exc:  # the driver raises many unrelated types (urllib3, OSError, chdb)
        raise translate(exc, db) from exc


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block: the engine's own stderr lines
    would precede our translated error (and scribble over the app's screen)."""
    import os
    import sys

    try:
        sys.stderr.flush()
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):  # no real stderr (embedded use): nothing to silence
        yield
        return
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _open(db: DatabaseSettings):
    import clickhouse_connect  # imported lazily: `ionis-tui predict` must not pay for it

    if db.mode == "embedded":
        p = Path(db.path).expanduser()
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot create the folder for the embedded database {db.path}: "
                            f"{exc.strerror}; check database.path", setting="database.path") from None
        with _quiet_stderr():  # chdb prints its raw "Code: 76" lock error before raising
            return clickhouse_connect.get_client(interface="chdb", path=str(p))
    # No default database: every statement qualifies its table, and the target database may
    # not exist yet (ensure_table creates it). Sessions off so threads may share the client.
    return clickhouse_connect.get_client(
        host=db.host, port=db.port, username=db.username, password=db.password,
        secure=db.secure, connect_timeout=db.connect_timeout, query_retries=0,
        send_receive_timeout=db.query_timeout, autogenerate_session_id=False)


def abandon_waits() -> None:
    """Stop waiting for the server everywhere, now (the app is quitting): each waiting call
    ends with a DataError and the stuck network read is left to a daemon thread."""
    _abandoned[0] += 1


def bounded(db: DatabaseSettings, fn, *args, **kwargs):
    """fn(*args, **kwargs), but never longer than database.query_timeout in all: the driver's
    own timeout is per socket read, so a server that drips a byte a second would pass it."""
    box: dict[str, Any] = {}
    done = threading.Event()
    generation = _abandoned[0]

    def call() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=call, name="ionis-db-call", daemon=True).start()
    deadline = time.monotonic() + db.query_timeout
    while not done.wait(min(0.1, max(deadline - time.monotonic(), 0.0))):
        if _abandoned[0] != generation:
            raise DataError(f"{where(db)}: call abandoned (the tool is quitting)")
        if time.monotonic() >= deadline:
            raise DataError(f"{where(db)} did not answer within {db.query_timeout:g} s; check "
                            f"database.host / database.port, or raise database.query_timeout",
                            setting="database.query_timeout")
    if "error" in box:
        raise box["error"]
    return box["value"]


class _BoundedClient:
    """A server-mode client whose every method call is bounded in time (see bounded)."""

    def __init__(self, client, db: DatabaseSettings) -> None:
        self._client, self._db = client, db

    def __getattr__(self, name: str):
        attr = getattr(self._client, name)
        if not callable(attr) or name == "close":
            return attr
        return functools.partial(bounded, self._db, attr)


def connect(db: DatabaseSettings):
    """A clickhouse-connect client for these settings, cached for the life of the process.

    chdb runs one engine per process, so asking for a different embedded path closes the
    previous embedded client first (anyone still holding it gets errors from then on)."""
    key = _key(db)
    with _lock:
        client = _clients.get(key)
        if client is not None:
            return client
        if db.mode == "embedded":
            for k in [k for k in _clients if k[0] == "embedded"]:
                _close(_clients.pop(k))
        with translating(db):
            # chdb runs in this process (a long seed is legitimate); a server may never answer.
            client = _open(db) if db.mode == "embedded" else _BoundedClient(bounded(db, _open, db), db)
        _clients[key] = client
        return client


def _close(client) -> None:
    try:
        client.close()
    except Exception:  # closing a broken connection must not mask the caller's error
        pass


def close_all() -> None:
    """Close every cached client (the embedded engine is released for another path/process)."""
    with _lock:
        while _clients:
            _close(_clients.popitem()[1])
