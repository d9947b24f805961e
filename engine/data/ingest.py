"""`data ingest`: WSPR spot files -> the raw spots table, parsed by ClickHouse.

Every file is read by ClickHouse itself (embedded: the `file()` table function; server: the
file is streamed to a raw-lines table) into one staging table, with the reason each line is
refused. Only when every file passes (share of malformed lines <= max_bad_share, at least
one new spot) are the good spots added, minus those already there (content key): into a
copy of the spots table (its parts hard-linked, not copied), which then replaces the spots
table in one EXCHANGE (engine.data.swap). So a file's spots appear all or not at all: any
refusal, error, Ctrl-C or kill before the swap leaves the spots table as it was.
A file that changes while it is read (truncated, rewritten) is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.data.client import translating
from engine.data.spot_formats import Sniffed, sniff
from engine.data.spot_sql import (
    INSERT_SETTINGS,
    SKIP_NOT_HF,
    SPOTS_COLUMNS,
    file_source_sql,
    parse_select_sql,
    spots_table_sql,
)
from engine.data.swap import swap_in, test_point
from engine.data.write_lock import write_lock
from engine.errors import DataError, InputError
from engine.settings import DatabaseSettings

Progress = Callable[[int, int, int], None]  # (bytes done, bytes total, lines parsed)
EXAMPLES = 3


@dataclass
class FileReport:
    path: str
    format: str
    lines: int = 0          # non-empty data lines (header excluded)
    spots: int = 0          # good HF spots in the file
    skipped_not_hf: int = 0
    malformed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    examples: list[dict] = field(default_factory=list)  # {"line", "reason", "text"}
    new: int = 0            # spots not yet in the table

    @property
    def bad_share(self) -> float:
        return self.malformed / self.lines if self.lines else 0.0


@dataclass
class IngestReport:
    table: str
    files: list[FileReport]
    rows_added: int
    rows_total: int
    seconds: float

    def as_dict(self) -> dict:
        return {"table": self.table, "rows_added": self.rows_added, "rows_total": self.rows_total,

                "seconds": round(self.seconds, 3),
                "files": [dict(vars(f), bad_share=round(f.bad_share, 6)) for f in self.files]}


def ensure_spots_table(client, db: DatabaseSettings, table: str) -> str:
    qualified = f"`{db.database}`.`{table}`"
    with translating(db):
        client.command(f"CREATE DATABASE IF NOT EXISTS `{db.database}`")
        client.command(spots_table_sql(qualified))
    return qualified


def ingest_files(client, db: DatabaseSettings, files: list[str | Path], fmt: str = "auto", *,
                 table: str = "spots", max_bad_share: float = 0.01,
                 progress: Progress | None = None) -> IngestReport:
    """Parse `files` (any supported format; `fmt` forces one) into `db.database`.`table`.
    Raises InputError (nothing kept) for a bad file; returns per-file counts otherwise."""
    t0 = time.perf_counter()
    paths = _distinct_paths(files)
    sniffed = [sniff(p, fmt) for p in paths]
    labels = _labels(paths, sniffed)
    target = ensure_spots_table(client, db, table)
    st = _Staging(db, table)
    with write_lock(client, db, table, "data ingest"):
        try:
            st.create(client, db)
            _load_all(client, db, st, paths, sniffed, labels, progress)
            reports = _file_reports(client, db, st, paths, sniffed, labels, target)
            _refuse_bad(reports, max_bad_share)
            added, total = _move_new(client, db, st, table, sum(r.new for r in reports))
        finally:
            st.drop(client, db)
    return IngestReport(f"{db.database}.{table}", reports, added, total, time.perf_counter() - t0)


class _Staging:
    """Rows are parsed once, into a Null table; materialized views split them into the good
    spots (exactly the spots table's layout, so its partitions can be attached as they are),
    the refused lines, and the line count per file."""

    def __init__(self, db: DatabaseSettings, table: str):
        q = lambda s: f"`{db.database}`.`{table}__{s}`"  # noqa: E731
        self.entry, self.good, self.bad, self.lines = q("in"), q("good"), q("bad"), q("lines")
        self.next_name = f"{table}__next"   # the spots table plus the new spots, swapped in
        self.next = q("next")
        self.views = (q("mv_good"), q("mv_bad"), q("mv_lines"))

    def create(self, client, db: DatabaseSettings) -> None:
        cols = ", ".join(f"`{c}` {t}" for c, t in SPOTS_COLUMNS.items())
        names = ", ".join(f"`{c}`" for c in SPOTS_COLUMNS)
        self.drop(client, db)
        with translating(db):
            client.command(f"CREATE TABLE {self.entry} (file_no UInt16, line_no UInt64, reason "
                           f"LowCardinality(String), line String, {cols}) ENGINE = Null")
            client.command(spots_table_sql(self.good))
            client.command(f"CREATE TABLE {self.bad} (file_no UInt16, line_no UInt64, reason "
                           f"LowCardinality(String), line String) "
                           f"ENGINE = MergeTree ORDER BY (file_no, line_no)")
            client.command(f"CREATE TABLE {self.lines} (file_no UInt16, n UInt64) "
                           f"ENGINE = SummingMergeTree ORDER BY file_no")
            mv_good, mv_bad, mv_lines = self.views
            client.command(f"CREATE MATERIALIZED VIEW {mv_good} TO {self.good} AS SELECT "
                           f"{names} FROM {self.entry} WHERE reason = ''")
            client.command(f"CREATE MATERIALIZED VIEW {mv_bad} TO {self.bad} AS SELECT file_no, "
                           f"line_no, reason, line FROM {self.entry} WHERE reason != ''")
            client.command(f"CREATE MATERIALIZED VIEW {mv_lines} TO {self.lines} AS SELECT "
                           f"file_no, count() AS n FROM {self.entry} GROUP BY file_no")

    def drop(self, client, db: DatabaseSettings) -> None:
        with translating(db):
            for name in (*self.views, self.entry, self.good, self.bad, self.lines, self.next):
                client.command(f"DROP TABLE IF EXISTS {name} SYNC")


def _labels(paths: list[Path], sniffed: list[Sniffed]) -> list[str]:
    """The `source` of each file's spots: format and file name, unique within the call."""
    labels: list[str] = []
    for no, (p, sn) in enumerate(zip(paths, sniffed, strict=True)):
        label = f"{sn.fmt.name}:{p.name}"
        labels.append(label if label not in labels else f"{label}#{no + 1}")
    return labels


def _distinct_paths(files: list[str | Path]) -> list[Path]:
    if not files:
        raise InputError("no spot file given")
    seen: dict[Path, str] = {}
    for f in files:
        p = Path(f).expanduser()
        key = p.resolve()
        if key in seen:
            raise InputError(f"{f}: duplicate file (given twice, also as {seen[key]})")
        seen[key] = str(f)
    return [Path(f).expanduser() for f in files]


def _load_all(client, db, st: _Staging, paths: list[Path], sniffed: list[Sniffed],
              labels: list[str], progress: Progress | None) -> None:
    total = sum(p.stat().st_size for p in paths)
    done, entry = 0, st.entry
    for no, (path, sn) in enumerate(zip(paths, sniffed, strict=True)):
        before = _signature(path)
        try:
            test_point("ingest.read")
            if db.mode == "embedded":
                src = file_source_sql(str(path.resolve()), sn.compression)
                client.command(f"INSERT INTO {entry} {parse_select_sql(sn, src, no, labels[no])} "
                               f"SETTINGS {INSERT_SETTINGS}")
            else:
                _load_via_server(client, entry, path, sn, no, labels[no])
        except Exception as exc:
            raise _file_error(path, exc, db) from None
        if _signature(path) != before:
            raise InputError(f"{path}: the file changed while it was read (truncated or "
                             f"rewritten); nothing was ingested")
        done += path.stat().st_size
        if progress is not None:
            with translating(db):
                lines = client.query(f"SELECT sum(n) FROM {st.lines}").result_rows[0][0]
            progress(done, total, int(lines))


def _load_via_server(client, entry: str, path: Path, sn: Sniffed, no: int, label: str) -> None:
    """A server cannot read this machine's files: stream the raw lines into a scratch table
    (compressed files go as they are; the server inflates), then parse with the same SQL.
    Line numbers come from the read order of that table (one thread)."""
    lines = entry[:-1] + "_raw`"
    client.command(f"DROP TABLE IF EXISTS {lines} SYNC")
    client.command(f"CREATE TABLE {lines} (line String) ENGINE = Log")
    try:
        with path.open("rb") as fh:
            client.raw_insert(lines, column_names=["line"], insert_block=fh, fmt="LineAsString",
                              compression="gzip" if sn.compression == "gzip" else None)
        select = parse_select_sql(sn, lines, no, label, line_no="rowNumberInAllBlocks() + 1")
        client.command(f"INSERT INTO {entry} {select} SETTINGS max_threads = 1, {INSERT_SETTINGS}")
    finally:
        client.command(f"DROP TABLE IF EXISTS {lines} SYNC")


def _file_error(path: Path, exc: Exception, db) -> Exception:
    if isinstance(exc, (InputError, DataError)):
        return exc
    text = str(exc)
    if any(w in text for w in ("inflate", "ZLIB", "gzip", "Unexpected end of", "CANNOT_READ_ALL")):
        return InputError(f"{path}: cannot decompress: truncated or corrupt gzip file")
    from engine.data.client import translate
    err = translate(exc, db)
    return DataError(f"{path}: {err}", setting=err.setting)


def _file_reports(client, db, st: _Staging, paths: list[Path], sniffed: list[Sniffed],
                  labels: list[str], target: str) -> list[FileReport]:
    reports = [FileReport(str(p), sn.fmt.name) for p, sn in zip(paths, sniffed, strict=True)]
    with translating(db):
        for no, n in client.query(f"SELECT file_no, sum(n) FROM {st.lines} "
                                  f"GROUP BY file_no").result_rows:
            reports[no].lines = reports[no].spots = int(n)
        for no, reason, n in client.query(f"SELECT file_no, reason, count() FROM {st.bad} "
                                          f"GROUP BY file_no, reason").result_rows:
            r = reports[no]
            r.spots -= n
            if reason == SKIP_NOT_HF:
                r.skipped_not_hf += n
            else:
                r.malformed += n
                r.reasons[reason] = n
        for no, line_no, reason, text in client.query(
                f"SELECT file_no, line_no, reason, line FROM {st.bad} WHERE reason != "
                f"{{skip:String}} ORDER BY file_no, line_no LIMIT {EXAMPLES} BY file_no",
                parameters={"skip": SKIP_NOT_HF}).result_rows:
            reports[no].examples.append({"line": int(line_no), "reason": reason, "text": text[:200]})
        by_label = dict(client.query(
            f"SELECT source, uniqExact(spot_key) FROM {st.good} WHERE spot_key NOT IN "
            f"({_existing_keys(st.good, target)}) GROUP BY source").result_rows)
    for r, label in zip(reports, labels, strict=True):
        r.new = int(by_label.get(label, 0))
    return reports


def _existing_keys(staging: str, target: str) -> str:
    # only the target's rows in the staged time span can match (the key includes the time)
    return (f"SELECT spot_key FROM {target} WHERE time BETWEEN "
            f"(SELECT min(time) FROM {staging}) AND (SELECT max(time) FROM {staging})")


def _refuse_bad(reports: list[FileReport], max_bad_share: float) -> None:
    """One refused file refuses the whole call (nothing is kept), with the reason and the
    first malformed lines."""
    for r in reports:
        if r.lines == 0:
            raise InputError(f"{r.path}: no spot lines (only a header?)")
        if r.malformed and r.bad_share > max_bad_share:
            why = ", ".join(f"{k} {v:,}" for k, v in sorted(r.reasons.items(), key=lambda kv: -kv[1]))
            ex = "; ".join(f"line {e['line']}: {e['reason']}: {e['text'][:60]!r}" for e in r.examples)
            raise InputError(f"{r.path}: {r.malformed:,} of {r.lines:,} lines malformed "
                             f"({100 * r.bad_share:.1f}% > ingest.max_bad_share "
                             f"{100 * max_bad_share:g}%): {why}; e.g. {ex}; nothing was ingested")
        if r.spots == 0:
            raise InputError(f"{r.path}: no HF spots (160m-10m) in {r.lines:,} lines; "
                             f"nothing was ingested")
        if r.new == 0:
            raise InputError(f"{r.path}: duplicate file: all {r.spots:,} spots are already in "
                             f"the spots table; nothing was ingested")


def _signature(path: Path) -> tuple[int, int, int]:
    """Size, change time and inode: differs once the file was truncated or rewritten."""
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    return st.st_size, st.st_mtime_ns, st.st_ino


def _move_new(client, db, st: _Staging, table: str, new: int) -> tuple[int, int]:
    """Add the good spots not in the target yet, all at once; (added, total).

    The next table starts as the target's parts (hard links), gets the new spots (a fresh
    file's partitions are attached as they are, no copy; otherwise one INSERT ... SELECT
    leaves out what is there already), then replaces the target in one swap."""
    target = f"`{db.database}`.`{table}`"
    with translating(db):
        before = client.query(f"SELECT count() FROM {target}").result_rows[0][0]
        staged, distinct = client.query(f"SELECT count(), uniqExact(spot_key) "
                                        f"FROM {st.good}").result_rows[0]
        client.command(f"DROP TABLE IF EXISTS {st.next} SYNC")
        client.command(f"CREATE TABLE {st.next} AS {target}")
        _attach_all(client, db, target, st.next)
        if staged == distinct == new:
            _attach_all(client, db, st.good, st.next)
        else:
            cols = ", ".join(f"`{c}`" for c in SPOTS_COLUMNS)
            client.command(f"INSERT INTO {st.next} ({cols}) SELECT {cols} FROM {st.good} "
                           f"WHERE spot_key NOT IN ({_existing_keys(st.good, target)}) "
                           f"LIMIT 1 BY spot_key SETTINGS {INSERT_SETTINGS}")
        test_point("ingest.move")
        after = client.query(f"SELECT count() FROM {st.next}").result_rows[0][0]
        swap_in(client, db, st.next_name, True, table=table)
    return int(after - before), int(after)


def _attach_all(client, db, source: str, dest: str) -> None:
    """Every partition of `source` into `dest` as well (hard links: no data is copied)."""
    for (pid,) in client.query(
            "SELECT DISTINCT partition_id FROM system.parts WHERE database = {d:String} "
            "AND table = {t:String} AND active",
            parameters={"d": db.database, "t": source.split(".")[1].strip("`")}).result_rows:
        client.command(f"ALTER TABLE {dest} ATTACH PARTITION ID '{pid}' FROM {source}")


def uncovered_spots(client, db: DatabaseSettings, spots_table: str, sw_table: str) -> int:
    """Spots in the table on UTC days the space-weather table does not cover."""
    with translating(db):
        return int(client.query(
            f"SELECT count() FROM `{db.database}`.`{spots_table}` WHERE toDate(time) NOT IN "
            f"(SELECT date FROM `{db.database}`.`{sw_table}`)").result_rows[0][0])
