"""SQL pieces shared by the ingest and the build: the raw spots table, the parse of one raw
line into a spot (with the reason it is refused), and band from frequency.

Everything here is text for ClickHouse; nothing runs per row in Python.
"""

from __future__ import annotations

from engine.bands import BANDS
from engine.data.spot_formats import Sniffed
from engine.grids import LOCATOR_RE, valid_sql

# Raw spots: one row per decoded spot. spot_key is a content key, the same for the same
# spot in any format (time, both calls, band, SNR), so re-ingesting a file, or the same
# spot from another source, adds nothing. spot_id is the source's id (0 when it has none).
SPOTS_COLUMNS: dict[str, str] = {
    "spot_key": "UInt64", "spot_id": "UInt64", "time": "DateTime('UTC')", "band": "Int32",
    "frequency_hz": "UInt64", "tx_sign": "LowCardinality(String)", "tx_loc": "String",
    "rx_sign": "LowCardinality(String)", "rx_loc": "String", "snr": "Int16",
    "power_dbm": "Nullable(Int16)", "drift": "Nullable(Int16)", "distance_km": "UInt32",
    "azimuth": "Nullable(UInt16)", "code": "Int16", "source": "LowCardinality(String)",
}

# WSPR sub-bands, Hz. HF (160m-10m) carries the ADIF id; the other amateur WSPR bands are
# real spots the model does not cover (skipped and counted); anything else is malformed.
HF_RANGES = {
    102: (1_800_000, 2_000_000), 103: (3_500_000, 4_000_000), 104: (5_250_000, 5_450_000),
    105: (7_000_000, 7_300_000), 106: (10_100_000, 10_150_000), 107: (14_000_000, 14_350_000),
    108: (18_068_000, 18_168_000), 109: (21_000_000, 21_450_000), 110: (24_890_000, 24_990_000),
    111: (28_000_000, 29_700_000),
}
OTHER_WSPR_RANGES = ((135_700, 137_800), (472_000, 479_000), (50_000_000, 54_000_000),
                     (70_000_000, 70_500_000), (144_000_000, 148_000_000),
                     (420_000_000, 450_000_000), (1_240_000_000, 1_300_000_000))
assert set(HF_RANGES) == {b.id for b in BANDS}

SNR_PARSE_RANGE = (-60, 60)   # outside this the value is not a WSPR SNR at all
SKIP_NOT_HF = "skipped: not an HF band (LF/MF/VHF)"


def spots_table_sql(qualified: str) -> str:
    cols = ",\n  ".join(f"`{c}` {t}" for c, t in SPOTS_COLUMNS.items())
    return (f"CREATE TABLE IF NOT EXISTS {qualified} (\n  {cols}\n) ENGINE = MergeTree "
            f"PARTITION BY toYYYYMM(time) ORDER BY (time, spot_key)")


def band_sql(freq: str) -> str:
    """ADIF band id of a frequency in Hz; -1 for a non-HF WSPR band, 0 outside every band."""
    arms = [f"{freq} BETWEEN {lo} AND {hi}, {bid}" for bid, (lo, hi) in HF_RANGES.items()]
    other = " OR ".join(f"{freq} BETWEEN {lo} AND {hi}" for lo, hi in OTHER_WSPR_RANGES)
    return f"multiIf({', '.join(arms)}, {other}, -1, 0)"


def _convert(cell: str, kind: str) -> str:
    return {
        "str": cell,
        "int": f"toInt64OrNull({cell})",
        "unix": f"toDateTime(toUInt32OrNull({cell}), 'UTC')",
        "datetime": f"parseDateTimeBestEffortOrNull({cell}, 'UTC')",
        "mhz": f"toUInt64(round(toFloat64OrNull({cell}) * 1000000))",
        "hz": f"toUInt64(round(toFloat64OrNull({cell})))",
        "dbm": f"toInt64OrNull({cell})",
        "watts": f"if(toFloat64OrNull({cell}) > 0, "
                 f"toInt64(round(10 * log10(toFloat64OrNull({cell}) * 1000))), NULL)",
    }[kind]


def parsed_columns_sql(sn: Sniffed) -> str:
    """`p` is the array of a line's cells; gives one typed column per canonical field."""
    out = []
    for field, (_, kind) in sn.fmt.fields.items():
        # exports with a header may quote or pad cells; the wsprnet archive never does
        cell = (f"trimBoth(p[{sn.positions[field]}], ' \"')" if sn.fmt.header
                else f"p[{sn.positions[field]}]")
        out.append(f"{_convert(cell, kind)} AS f_{field}")
    return ",\n    ".join(out)


def reason_sql(sn: Sniffed) -> str:
    """Why a line is refused ('' when it is a good spot). Checks in order, first one wins."""
    lo, hi = SNR_PARSE_RANGE
    counts = ", ".join(str(n) for n in sn.ncols)
    return (f"multiIf(length(p) NOT IN ({counts}), 'wrong column count', "
            f"f_time IS NULL OR f_time < toDateTime('2008-01-01', 'UTC'), 'bad time', "
            f"f_snr IS NULL, 'non-numeric SNR', "
            f"f_snr NOT BETWEEN {lo} AND {hi}, 'SNR out of range', "
            f"f_frequency IS NULL OR f_frequency = 0, 'bad frequency', "
            f"f_band = 0, 'frequency outside every amateur band', "
            f"f_tx_sign = '' OR f_rx_sign = '', 'empty callsign', "
            f"NOT {valid_sql('f_tx_loc', LOCATOR_RE)}, 'bad TX grid', "
            f"NOT {valid_sql('f_rx_loc', LOCATOR_RE)}, 'bad RX grid', "
            f"f_distance IS NULL OR f_distance < 0, 'bad distance', "
            f"f_band = -1, '{SKIP_NOT_HF}', '')")


def spot_values_sql(sn: Sniffed, source: str) -> str:
    """The spots-table columns from the parsed f_* columns (valid only where reason = '')."""
    fields = sn.fmt.fields
    def opt(k: str, typ: str) -> str:
        return f"accurateCastOrNull(f_{k}, '{typ}')" if k in fields else f"CAST(NULL AS Nullable({typ}))"

    return ", ".join([
        "cityHash64(toUnixTimestamp(f_time), upper(f_tx_sign), upper(f_rx_sign), f_band, "
        "f_snr) AS spot_key",
        "toUInt64(ifNull(f_spot_id, 0)) AS spot_id" if "spot_id" in fields else "0 AS spot_id",
        "assumeNotNull(f_time) AS time", "toInt32(f_band) AS band",
        "assumeNotNull(f_frequency) AS frequency_hz", "upper(f_tx_sign) AS tx_sign",
        "f_tx_loc AS tx_loc", "upper(f_rx_sign) AS rx_sign", "f_rx_loc AS rx_loc",
        "toInt16(assumeNotNull(f_snr)) AS snr",
        f"{opt('power', 'Int16')} AS power_dbm", f"{opt('drift', 'Int16')} AS drift",
        "toUInt32(assumeNotNull(f_distance)) AS distance_km",
        f"{opt('azimuth', 'UInt16')} AS azimuth",
        "toInt16(ifNull(f_code, 0)) AS code" if "code" in fields else "toInt16(0) AS code",
        f"'{_quote(source)}' AS source",
    ])


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def file_source_sql(path: str, compression: str) -> str:
    """The raw lines of a file on the machine ClickHouse runs on (embedded: this one)."""
    return (f"file('{_quote(path)}', 'LineAsString', 'line String', "
            f"'{'gzip' if compression == 'gzip' else 'none'}')")


def parse_select_sql(sn: Sniffed, source_sql: str, file_no: int, label: str,
                     line_no: str = "_row_number + 1") -> str:
    """SELECT of every non-empty line of one file: file_no, line_no, reason, the raw line
    (bad lines only) and the spot columns. `source_sql` is file(...) or a raw-lines table."""
    header = ""
    if sn.header_line is not None:  # with or without a UTF-8 byte order mark
        h = _quote(sn.header_line)
        header = f" AND l NOT IN ('{h}', '\ufeff{h}')"
    d = "\\t" if sn.delimiter == "\t" else sn.delimiter
    return (
        f"SELECT {file_no} AS file_no, line_no, reason, if(reason = '', '', line) AS line, "
        f"{spot_values_sql(sn, label)}\n"
        f"FROM (SELECT line_no, l AS line, splitByChar('{d}', l) AS p,\n"
        f"    {parsed_columns_sql(sn)},\n"
        f"    {band_sql('f_frequency')} AS f_band,\n"
        f"    {reason_sql(sn)} AS reason\n"
        f"  FROM (SELECT {line_no} AS line_no, replaceOne(line, '\\r', '') AS l "
        f"FROM {source_sql}) WHERE l != ''{header})")
