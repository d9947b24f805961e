"""The one spot -> signature rule: which spots count (filters), how they are keyed (path, band,
UTC hour, month, Kp class, SFI class) and what a signature holds (median SNR, count, std,
reliability, mean SFI/Kp, distance, azimuth), with at least `min_spots` spots.

`data build` (SQL over the spots table), `evaluate` (SQL over the spots it read, at both levels)
and the demo seeder (the same SQL over its simulated spots, through a scratch table:
engine.demo.seed_sql) aggregate with this module's SQL and nothing else; `rules(min_spots)` is
the set of parameters each of them shows in its output.

Public: `spot_rows_sql` gives one row per spot with its 4-char grids and their centres, ADIF
band, hour/month/day of year, SNR, power, distance, azimuth, and the SFI (observed F10.7 of
the spot's UTC day) and Kp (of its 3-hour block) from the space-weather table;
`spot_filter_sql` gives the filters; `signatures_sql` the aggregation.
"""

from __future__ import annotations

import re

from engine.bands import hf_band_sql
from engine.errors import InputError
from engine.grids import grid4_sql, grid_latlon_sql
from engine.settings import DatabaseSettings

MIN_DISTANCE_KM = 500        # reference doc section 5
MAX_DISTANCE_KM = 20_040     # half the Earth's circumference: longer is a bad grid
SNR_RANGE = (-40, 30)        # WSPR decodes to about -34 dB; stronger than +30 is not real
RELIABLE_DB = -20            # reliability = share of spots above this
MOVING_GRIDS_PER_DAY = 3     # a TX call seen in this many 4-char grids on one UTC day moves

# Buckets keep space weather resolved: one signature per Kp class and SFI class as well.
# Averaging Kp over a whole bucket squeezes it towards 2 and starves the storm sidecar (the
# original's defect); averaging SFI over days of many years squeezes it the same way.
# Kp classes [0,2), [2,3), [3,4), [4,5), [5,9]; SFI classes [0,80), [80,110), [110,150), [150,..)
# (daily F10.7 quartiles: 72, 96, 135).
KP_CLASS_EDGES = (0.0, 2.0, 3.0, 4.0, 5.0)
SFI_CLASS_EDGES = (0.0, 80.0, 110.0, 150.0)
N_CLASSES = len(KP_CLASS_EDGES) * len(SFI_CLASS_EDGES)
KEY = ("tx_grid_4", "rx_grid_4", "band", "hour", "month", "kp_class", "sfi_class")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def rules(min_spots: int) -> dict:
    """The parameters of the aggregation, as every producer of signatures reports them."""
    return {"key": list(KEY), "kp_class_edges": list(KP_CLASS_EDGES),
            "sfi_class_edges": list(SFI_CLASS_EDGES), "min_spots": int(min_spots),
            "snr_db": list(SNR_RANGE), "distance_km": [MIN_DISTANCE_KM, MAX_DISTANCE_KM],
            "reliable_db": RELIABLE_DB, "moving_tx_grids_per_day": MOVING_GRIDS_PER_DAY,
            "median": "median SNR of the bucket's spots"}


def rules_line(r: dict) -> str:
    """The parameters in one line of text."""
    return (f"aggregation: >= {r['min_spots']} spots per (path, band, hour, month, Kp class, "
            f"SFI class); Kp classes from {', '.join(f'{e:g}' for e in r['kp_class_edges'])}; "
            f"SFI classes from {', '.join(f'{e:g}' for e in r['sfi_class_edges'])}; "
            f"SNR {r['snr_db'][0]}..{r['snr_db'][1]} dB; distance {r['distance_km'][0]}.."
            f"{r['distance_km'][1]} km")


# ---- SQL (data build, evaluate, the demo seeder) --------------------------------------
def class_sql(column: str, edges: tuple[float, ...]) -> str:
    """SQL for the class (0..len(edges)-1) of each spot's value: the number of edges[1:] at or
    below it (numpy's searchsorted(edges[1:], value, side="right"))."""
    return "multiIf(" + ", ".join(f"{column} < {e:g}, {i}" for i, e in enumerate(edges[1:])) \
        + f", {len(edges) - 1})"


KP_CLASS_SQL = class_sql("kp", KP_CLASS_EDGES)
SFI_CLASS_SQL = class_sql("sfi", SFI_CLASS_EDGES)


def spot_rows_sql(db: DatabaseSettings, spots_table: str, sw_table: str) -> str:
    """SELECT: one row per raw spot with the model's inputs and the joined space weather.
    sfi, sfi_adj and kp are NULL for a spot whose UTC day the space-weather table lacks."""
    s, w = f"`{db.database}`.`{spots_table}`", f"`{db.database}`.`{sw_table}`"
    tx_lat, tx_lon = grid_latlon_sql("tx_grid_4")
    rx_lat, rx_lon = grid_latlon_sql("rx_grid_4")
    return (
        f"SELECT s.time AS time, s.spot_key AS spot_key, s.tx_sign AS tx_sign, "
        f"s.rx_sign AS rx_sign, s.tx_loc AS tx_loc, s.rx_loc AS rx_loc, "
        f"s.frequency_hz AS frequency_hz, "
        f"toFixedString({grid4_sql('s.tx_loc')}, 4) AS tx_grid_4, "
        f"toFixedString({grid4_sql('s.rx_loc')}, 4) AS rx_grid_4, "
        f"{tx_lat} AS tx_lat, {tx_lon} AS tx_lon, {rx_lat} AS rx_lat, {rx_lon} AS rx_lon, "
        f"s.band AS band, toHour(s.time) AS hour, toMonth(s.time) AS month, "
        f"toDayOfYear(s.time) AS doy, s.snr AS snr, s.power_dbm AS power_dbm, "
        f"s.distance_km AS distance_km, s.azimuth AS azimuth, "
        f"if(w.covered = 1, w.f107_obs, NULL) AS sfi, "
        f"if(w.covered = 1, w.f107_adj, NULL) AS sfi_adj, "
        f"if(w.covered = 1, w.kp[intDiv(toHour(s.time), 3) + 1], NULL) AS kp "
        f"FROM {s} AS s LEFT JOIN {w} AS w ON w.date = toDate(s.time)")


def month_bounds(first: str | None, last: str | None) -> tuple[str | None, str | None]:
    """'YYYY-MM' -> first day of that month / first day after `last`; InputError if bad."""
    out = []
    for flag, text, after in (("--from", first, False), ("--to", last, True)):
        if text is None:
            out.append(None)
            continue
        m = _MONTH.match(text)
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise InputError(f"{flag} {text!r}: use YYYY-MM, e.g. 2023-02")
        y, mo = int(m.group(1)), int(m.group(2))
        if after:
            y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
        out.append(f"{y:04d}-{mo:02d}-01")
    if out[0] and out[1] and out[0] >= out[1]:
        raise InputError(f"--from {first} is after --to {last}")
    return out[0], out[1]


def spot_filter_sql(db: DatabaseSettings, spots_table: str, start: str | None = None,
                    end: str | None = None) -> dict[str, str]:
    """The filters over spot_rows_sql columns, name -> condition (all must hold); "from"/"to"
    (the chosen months, from month_bounds) come first."""
    s = f"`{db.database}`.`{spots_table}`"
    lo, hi = SNR_RANGE
    out = {}
    if start:
        out["from"] = f"time >= toDateTime('{start}', 'UTC')"
    if end:
        out["to"] = f"time < toDateTime('{end}', 'UTC')"
    out.update({
        "hf_band": hf_band_sql(),
        "distance": f"distance_km BETWEEN {MIN_DISTANCE_KM} AND {MAX_DISTANCE_KM}",
        "snr": f"snr BETWEEN {lo} AND {hi}",
        "moving_tx": f"(tx_sign, toDate(time)) NOT IN (SELECT tx_sign, toDate(time) FROM {s} "
                     f"GROUP BY tx_sign, toDate(time) "
                     f"HAVING uniqExact({grid4_sql('tx_loc')}) >= {MOVING_GRIDS_PER_DAY})",
        "space_weather": "sfi IS NOT NULL AND kp IS NOT NULL",
    })
    return out


def all_of(filters: dict[str, str]) -> str:
    return " AND ".join(f"({v})" for v in filters.values()) or "1"


def first_failed_sql(filters: dict[str, str]) -> str:
    """The name of the first filter a row fails ('' when it passes them all)."""
    arms = ", ".join(f"NOT ({v}), '{k}'" for k, v in filters.items())
    return f"multiIf({arms}, '')" if filters else "''"


def signatures_sql(rows: str, filters: dict[str, str], min_spots: int) -> str:
    """SELECT of the signature table's columns (engine.data.schema.SCHEMA order and names),
    one row per bucket with at least `min_spots` spots passing every filter."""
    return (
        f"SELECT tx_grid_4, rx_grid_4, band, hour, month, toFloat32(median(snr)) AS median_snr, "
        f"toUInt32(count()) AS spot_count, toFloat32(stddevPop(snr)) AS snr_std, "
        f"toFloat32(countIf(snr > {RELIABLE_DB}) / count()) AS reliability, "
        f"toFloat32(avg(sfi)) AS avg_sfi, toFloat32(avg(kp)) AS avg_kp, "
        f"toUInt32(round(avg(distance_km))) AS avg_distance, "
        # mean direction, not mean of degrees (350 and 10 average to 0, not 180)
        f"toUInt16(round(if(countIf(azimuth IS NOT NULL) = 0, 0, (degrees(atan2("
        f"avg(sin(radians(azimuth))), avg(cos(radians(azimuth))))) + 360) % 360)) % 360) "
        f"AS avg_azimuth "
        f"FROM ({rows}) WHERE {all_of(filters)} "
        f"GROUP BY tx_grid_4, rx_grid_4, band, hour, month, {KP_CLASS_SQL}, {SFI_CLASS_SQL} "
        f"HAVING count() >= {int(min_spots)}")


def buckets_sql(rows: str, filters: dict[str, str]) -> str:
    """SELECT count() of every bucket (kept or not): the dropped ones are reported."""
    return (f"SELECT count() AS n FROM ({rows}) WHERE {all_of(filters)} "
            f"GROUP BY tx_grid_4, rx_grid_4, band, hour, month, {KP_CLASS_SQL}, {SFI_CLASS_SQL}")
