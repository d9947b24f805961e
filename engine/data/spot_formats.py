"""The WSPR spot file formats `data ingest` reads, and sniffing which one a file is.

Each format maps the canonical spot fields to a column of the file (by position, or by
header name) and says how the text converts. Only the first line is read in Python (to
sniff); every row is parsed by ClickHouse from the raw lines (engine.data.ingest), so a
line that does not convert can be counted and shown with its line number.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"

# How a field's text converts to its value: "str", "int", "unix" (seconds), "datetime"
# (ISO or 'YYYY-MM-DD HH:MM'), "mhz"/"hz" (frequency), "dbm"/"watts" (power).
Field = tuple[str, str]  # (column: "3" = 1-based position, or a header name; kind)


@dataclass(frozen=True)
class SpotFormat:
    name: str
    description: str
    delimiter: str            # "," or "\t"
    header: bool              # first line names the columns
    fields: dict[str, Field]  # canonical field -> (column, kind)
    ncols: tuple[int, ...] = ()  # headerless: accepted column counts

    def required_names(self) -> set[str]:
        return {col.lower() for col, _ in self.fields.values()}


# wsprnet.org monthly archive: 15 columns, no header (14 before the `code` column, 2010-12).
WSPRNET = SpotFormat(
    "wsprnet", "wsprnet.org archive CSV (wsprspots-YYYY-MM.csv[.gz], 15 columns, no header)",
    ",", False, {
        "spot_id": ("1", "int"), "time": ("2", "unix"), "rx_sign": ("3", "str"),
        "rx_loc": ("4", "str"), "snr": ("5", "int"), "frequency": ("6", "mhz"),
        "tx_sign": ("7", "str"), "tx_loc": ("8", "str"), "power": ("9", "dbm"),
        "drift": ("10", "int"), "distance": ("11", "int"), "azimuth": ("12", "int"),
        "code": ("15", "int"),
    }, ncols=(15,))
# wspr.live `wspr.rx` exported with its column names (CSV or TSV).
WSPRLIVE = SpotFormat(
    "wsprlive", "wspr.live wspr.rx export with header (id,time,...,frequency,power,snr,...)",
    ",", True, {
        "spot_id": ("id", "int"), "time": ("time", "datetime"), "rx_sign": ("rx_sign", "str"),
        "rx_loc": ("rx_loc", "str"), "tx_sign": ("tx_sign", "str"), "tx_loc": ("tx_loc", "str"),
        "distance": ("distance", "int"), "azimuth": ("azimuth", "int"),
        "frequency": ("frequency", "hz"), "power": ("power", "dbm"), "snr": ("snr", "int"),
        "drift": ("drift", "int"),
    })
# wsprnet.org database query page, saved as CSV.
WSPRNET_QUERY = SpotFormat(
    "wsprnet-query", "wsprnet.org query page as CSV (timestamp_utc,tx_call,freq_mhz,snr_db,...)",
    ",", True, {
        "time": ("timestamp_utc", "datetime"), "tx_sign": ("tx_call", "str"),
        "frequency": ("freq_mhz", "mhz"), "snr": ("snr_db", "int"), "drift": ("drift", "int"),
        "tx_loc": ("tx_grid", "str"), "power": ("power_w", "watts"), "rx_sign": ("rx_call", "str"),
        "rx_loc": ("rx_grid", "str"), "distance": ("distance_km", "int"),
        "azimuth": ("azimuth_deg", "int"),
    })
# wspr.rocks spot list, tab separated (distance column `k` is km).
WSPRROCKS = SpotFormat(
    "wsprrocks", "wspr.rocks TSV (Time, TX, txGrid, RX, rxGrid, MHz, Watts, SNR, drift, k, az)",
    "\t", True, {
        "time": ("time", "datetime"), "tx_sign": ("tx", "str"), "tx_loc": ("txgrid", "str"),
        "rx_sign": ("rx", "str"), "rx_loc": ("rxgrid", "str"), "frequency": ("mhz", "mhz"),
        "power": ("watts", "watts"), "snr": ("snr", "int"), "drift": ("drift", "int"),
        "distance": ("k", "int"), "azimuth": ("az", "int"),
    })
# The project's combined file (shared/data/wspr/wspr_spots_real.csv). Its space-weather
# columns (kp_3h, f107_obs, ...) are ignored: the build joins the space-weather table.
COMBINED = SpotFormat(
    "combined", "combined spot CSV (time_utc,band,frequency_hz,tx_sign,...,snr,power_dbm,...)",
    ",", True, {
        "time": ("time_utc", "datetime"), "frequency": ("frequency_hz", "hz"),
        "tx_sign": ("tx_sign", "str"), "tx_loc": ("tx_loc", "str"), "rx_sign": ("rx_sign", "str"),
        "rx_loc": ("rx_loc", "str"), "snr": ("snr", "int"), "power": ("power_dbm", "dbm"),
        "drift": ("drift", "int"), "distance": ("distance_km", "int"),
        "azimuth": ("azimuth", "int"),
    })

FORMATS: dict[str, SpotFormat] = {f.name: f for f in
                                  (WSPRNET, WSPRLIVE, WSPRNET_QUERY, WSPRROCKS, COMBINED)}
FORMAT_NAMES = ("auto", *FORMATS)


@dataclass(frozen=True)
class Sniffed:
    fmt: SpotFormat
    delimiter: str
    compression: str               # "gzip" or "none"
    header_line: str | None        # exact first line when the format has a header
    positions: dict[str, int]      # canonical field -> 1-based column number
    ncols: tuple[int, ...]         # accepted column counts per line


def check_file(path: Path) -> None:
    """Refuse what cannot be a spot file before ClickHouse sees it."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a spot file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:  # not the runs.dir advice describe_os_error gives
        raise InputError(f"{path}: cannot read the file: {exc.strerror or exc}") from None


def _first_line(path: Path, compression: str) -> str:
    try:
        if compression == "gzip":
            with gzip.open(path, "rb") as fh:
                raw = fh.readline(1 << 16)
        else:
            with path.open("rb") as fh:
                raw = fh.readline(1 << 16)
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read ({exc}); is it a truncated or corrupt gzip?") from None
    if not raw.strip():
        raise InputError(f"{path}: file is empty (no first line)")
    return raw.decode("utf-8", errors="replace").rstrip("\r\n").removeprefix("\ufeff")


def sniff(path: Path, fmt: str = "auto") -> Sniffed:
    """Which format `path` is (or check it is `fmt`); raise InputError naming the known ones."""
    if fmt != "auto" and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: use one of {', '.join(FORMAT_NAMES)}")
    check_file(path)
    with path.open("rb") as fh:
        compression = "gzip" if fh.read(2) == GZIP_MAGIC else "none"
    line = _first_line(path, compression)
    wanted = list(FORMATS.values()) if fmt == "auto" else [FORMATS[fmt]]
    for f in wanted:
        got = _match(f, line)
        if got is not None:
            return Sniffed(f, got[0], compression, line if f.header else None, got[1], got[2])
    known = ", ".join(f"{f.name} ({f.description})" for f in FORMATS.values())
    what = "an unknown spot file format" if fmt == "auto" else f"not in the {fmt} format"
    raise InputError(f"{path}: {what} (first line {line[:80]!r}); known formats: {known}")


def _match(f: SpotFormat, line: str):
    if not f.header:
        cells = line.split(f.delimiter)
        if len(cells) in f.ncols and cells[0].strip().isdigit():
            return f.delimiter, {k: int(c) for k, (c, _) in f.fields.items()}, f.ncols
        return None
    delim = "\t" if "\t" in line else ","
    names = [c.strip().strip('"').lower() for c in line.split(delim)]
    if not f.required_names() <= set(names):
        return None
    pos = {k: names.index(c.lower()) + 1 for k, (c, _) in f.fields.items()}
    return delim, pos, (len(names),)
