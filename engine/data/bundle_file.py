"""Find and inspect the published IONIS signature bundle (`wspr_signatures_v2.sqlite`).

Only metadata is read here, with Python's sqlite3 in read-only mode: the tables, their
columns and the rowid span (an index lookup). The rows themselves are read by ClickHouse's
`SQLite` engine inside `engine.data.bundle_import`; Python never holds them."""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from engine.data.schema import SCHEMA
from engine.errors import InputError

BUNDLE_FILE = "wspr_signatures_v2.sqlite"
BUNDLE_TABLE = "wspr_signatures_v2"
# Where `ionis-download` (PyPI package ionis-mcp) puts the file, below its data folder.
BUNDLE_SUBDIR = Path("propagation") / "wspr-signatures"
# Other IONIS bundles share the schema but not the SNR scale (RBN/contest: CW skimmer dB,
# PSK Reporter: FT8 dB); the trainer's per-band norms are WSPR's.
OTHER_SOURCES = re.compile(r"rbn|contest|pskr|psk_?reporter|dxped", re.IGNORECASE)
_SQLITE_MAGIC = b"SQLite format 3\x00"
# Rows whose value types are checked up front (an index range: a fraction of a second).
# ClickHouse reads SQLite values with SQLite's conversions, so text in a numeric column
# would arrive as 0; a whole-file check costs as much as the import, so only a systematic
# defect (an export that wrote numbers as text) is caught here, before anything is written.
TYPE_SAMPLE_ROWS = 100_000


@dataclass(frozen=True)
class BundleInfo:
    path: Path
    table: str
    size: int                 # bytes
    rowid_min: int | None     # None: a WITHOUT ROWID table (read in one stream)
    rowid_max: int | None

    @property
    def rowid_span(self) -> int:
        """Rows the table holds when its rowids are dense (true of an insert-only export)."""
        if self.rowid_min is None or self.rowid_max is None:
            return 0
        return self.rowid_max - self.rowid_min + 1


def default_bundle_path() -> Path:
    """$IONIS_DATA_DIR/propagation/wspr-signatures/<file>, else under ~/.ionis-mcp/data."""
    base = os.environ.get("IONIS_DATA_DIR")
    root = Path(base).expanduser() if base else Path.home() / ".ionis-mcp" / "data"
    return root / BUNDLE_SUBDIR / BUNDLE_FILE


def inspect_bundle(path: str | os.PathLike, from_table: str | None = None) -> BundleInfo:
    """Check that `path` is a SQLite file holding a signature table; raise InputError (one
    line naming the thing to fix) otherwise."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"{p}: no such file (get the bundle with `ionis-download` from the "
                         f"PyPI package ionis-mcp, or give its path)")
    try:
        with open(p, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise InputError(f"{p}: cannot read it ({exc.strerror})") from None
    if head != _SQLITE_MAGIC:
        raise InputError(f"{p} is not a SQLite file (the bundle is wspr_signatures_v2.sqlite)")
    con = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    try:
        table = _pick_table(con, p, from_table)
        _refuse_other_source(p, table)
        lo, hi = _rowid_span(con, p, table)
        _refuse_text_in_numbers(con, p, table, lo)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{p}: cannot read it as SQLite ({exc})") from None
    finally:
        con.close()
    return BundleInfo(path=p.resolve(), table=table, size=p.stat().st_size,
                      rowid_min=lo, rowid_max=hi)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in con.execute(f"PRAGMA table_info({_ident(table)})")]


def _pick_table(con: sqlite3.Connection, p: Path, from_table: str | None) -> str:
    tables = [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")]
    if from_table is not None:
        if from_table not in tables:
            raise InputError(f"{p} has no table {from_table!r} (--from-table); it holds: "
                             f"{', '.join(tables) or 'no tables'}")
        missing = [c for c in SCHEMA if c not in _columns(con, from_table)]
        if missing:
            raise InputError(f"{p}: table {from_table!r} lacks the signature column(s) "
                             f"{', '.join(missing)}")
        return from_table
    full = [t for t in tables if all(c in _columns(con, t) for c in SCHEMA)]
    if len(full) == 1:
        return full[0]
    if len(full) > 1:
        pick = BUNDLE_TABLE if BUNDLE_TABLE in full else None
        if pick:
            return pick
        raise InputError(f"{p} holds several signature tables ({', '.join(full)}); "
                         f"choose one with --from-table")
    # No complete table: name the closest one's missing columns, so a damaged export is
    # told apart from a file that is something else entirely.
    best = max(tables, key=lambda t: sum(c in _columns(con, t) for c in SCHEMA), default=None)
    have = [c for c in SCHEMA if best and c in _columns(con, best)]
    if best and len(have) >= len(SCHEMA) // 2:
        missing = [c for c in SCHEMA if c not in have]
        raise InputError(f"{p}: table {best!r} lacks the signature column(s) "
                         f"{', '.join(missing)}")
    raise InputError(f"{p} holds no signature table (a table with the columns "
                     f"{', '.join(SCHEMA)}); tables: {', '.join(tables) or 'none'}")


def _refuse_other_source(p: Path, table: str) -> None:
    m = OTHER_SOURCES.search(table) or OTHER_SOURCES.search(p.name)
    if m:
        raise InputError(f"{p}: table {table!r} looks like a {m.group(0).upper()} bundle; only "
                         f"WSPR signatures can be imported (other sources use other SNR "
                         f"scales, and the trainer's per-band norms are WSPR's)")


def _rowid_span(con: sqlite3.Connection, p: Path, table: str) -> tuple[int | None, int | None]:
    try:
        lo, hi = con.execute(f"SELECT min(rowid), max(rowid) FROM {_ident(table)}").fetchone()
    except sqlite3.OperationalError:  # WITHOUT ROWID table, or a view: no span to split
        return None, None
    if lo is None:
        raise InputError(f"{p}: table {table!r} holds no rows")
    return lo, hi


def _refuse_text_in_numbers(con: sqlite3.Connection, p: Path, table: str,
                            lo: int | None) -> None:
    numeric = [c for c in SCHEMA if not c.endswith("_grid_4")]
    where = f"WHERE rowid < {lo + TYPE_SAMPLE_ROWS}" if lo is not None else ""
    limit = "" if lo is not None else f"LIMIT {TYPE_SAMPLE_ROWS}"
    counts = ", ".join(f"sum(typeof({_ident(c)}) IN ('text', 'blob'))" for c in numeric)
    row = con.execute(f"SELECT {counts} FROM (SELECT * FROM {_ident(table)} {where} {limit})"
                      ).fetchone()
    bad = {c: int(n) for c, n in zip(numeric, row, strict=True) if n}
    if bad:
        what = ", ".join(f"{c} in {n:,}" for c, n in bad.items())
        raise InputError(f"{p}: numeric columns hold text ({what} of the first "
                         f"{TYPE_SAMPLE_ROWS:,} rows); it would be read as 0: fix the export")
