"""Features against values computed by hand from the reference definitions."""

import math

import numpy as np
import pytest

from engine.errors import InputError
from engine.features import V20, V22, build_features, freq_centered
from engine.geo import bearing_deg, haversine_km, parse_location, solar_elevation_deg
from engine.grids import grid_to_latlon, grids_to_latlon, latlon_to_grid4


def test_feature_set_shapes():
    assert V22.input_dim == 17 and V22.trunk_dim == 15 and V22.sfi_idx == 15 and V22.kp_idx == 16
    assert V20.input_dim == 13 and V20.trunk_dim == 11


def test_grid_centres():
    assert grid_to_latlon("FN20") == (40.5, -75.0)
    assert grid_to_latlon("JO01") == (51.5, 1.0)
    assert grid_to_latlon("FN") == (45.0, -70.0)
    lat, lon = grid_to_latlon("IO91wm")  # w = 22, m = 12 subsquare
    assert lat == pytest.approx(51 + 12 / 24 + 1 / 48)
    assert lon == pytest.approx(-2 + 22 * 2 / 24 + 1 / 24)
    lat, lon = grids_to_latlon(np.array(["FN20", "jo01", "RE78"]))
    assert lat.tolist() == [40.5, 51.5, -41.5] and lon.tolist() == [-75.0, 1.0, 175.0]
    assert lat.dtype == np.float32
    assert latlon_to_grid4(40.5, -75.0) == "FN20"


@pytest.mark.parametrize("bad", ["ZZ99", "FN2", "", "12,", "95,10", "10,190", "nan,1", "W99"])
def test_bad_locations_are_refused(bad):
    with pytest.raises(InputError):
        parse_location(bad)


def test_locations_accept_presets_and_signed_coordinates():
    assert parse_location("vk") == (-33.87, 151.21)
    assert parse_location("-33.87,151.21") == (-33.87, 151.21)
    assert parse_location(" 51.5 , -0.12 ") == (51.5, -0.12)


def test_distance_and_bearing_by_hand():
    # One degree of longitude on the equator: R * pi / 180.
    assert haversine_km(0, 0, 0, 1) == pytest.approx(6371 * math.pi / 180, rel=1e-9)
    assert bearing_deg(0, 0, 0, 1) == pytest.approx(90.0)
    assert bearing_deg(0, 0, 1, 0) == pytest.approx(0.0)
    assert bearing_deg(0, 0, 0, -1) == pytest.approx(270.0)
    # W3 -> G is about 5,880 km (reference doc), bearing north-east.
    d = haversine_km(39.14, -77.01, 51.50, -0.12)
    assert 5850 < d < 5920
    assert 45 < bearing_deg(39.14, -77.01, 51.50, -0.12) < 55


def test_solar_elevation_by_hand():
    # doy 80: declination = -23.44 cos(360/365 * 90 deg)
    dec = -23.44 * math.cos(math.radians(360 / 365 * 90))
    assert solar_elevation_deg(0, 0, 12, 80) == pytest.approx(90 - abs(dec), abs=1e-9)
    # Midnight on the equator: -(90 - |dec|)
    assert solar_elevation_deg(0, 0, 0, 80) == pytest.approx(-(90 - abs(dec)), abs=1e-9)
    # The hour angle follows longitude: 12z at lon 0 equals 18z at lon -90.
    assert solar_elevation_deg(10, -90, 18, 80) == pytest.approx(solar_elevation_deg(10, 0, 12, 80))


def test_freq_centered_branches():
    assert freq_centered(28e6) == pytest.approx(1.0)
    assert freq_centered(1.8e6) == pytest.approx((1.8 - 10) / 8.2)
    assert freq_centered(10e6) == pytest.approx(0.0)


def test_v22_row_by_hand():
    # TX on the equator at lon 0, RX 1 degree east; 20m, 06z, March (season angle pi/2), doy 80.
    x = build_features("v22", 0.0, 0.0, 0.0, 1.0, 14_097_100, 6, 3, 150, 3, doy=80)
    assert x.dtype == np.float32 and x.shape == (1, 17)
    r = x[0].astype(np.float64)
    assert r[0] == pytest.approx(6371 * math.pi / 180 / 20000, rel=1e-6)
    assert r[1] == pytest.approx(math.log10(14_097_100) / 8, rel=1e-6)
    assert r[2] == pytest.approx(1.0) and r[3] == pytest.approx(0.0, abs=1e-6)   # hour 6
    assert r[4] == pytest.approx(1.0) and r[5] == pytest.approx(0.0, abs=1e-6)   # due east
    assert r[6] == 0.0 and r[7] == 0.0
    assert r[8] == pytest.approx(1.0) and r[9] == pytest.approx(0.0, abs=1e-6)   # month 3
    assert r[10] == pytest.approx(0.0, abs=1e-3)     # acos(|sin 90 * cos 0|) = 0
    el_tx = solar_elevation_deg(0, 0, 6, 80) / 90
    el_rx = solar_elevation_deg(0, 1, 6, 80) / 90
    assert r[11] == pytest.approx(el_tx, abs=1e-6) and r[12] == pytest.approx(el_rx, abs=1e-6)
    fc = (14.0971 - 10) / 18
    assert r[13] == pytest.approx(fc * el_tx, abs=1e-6) and r[14] == pytest.approx(fc * el_rx, abs=1e-6)
    assert r[15] == pytest.approx(0.5) and r[16] == pytest.approx(1 - 3 / 9)


def test_v22_uses_mid_month_day_without_doy():
    a = build_features("v22", 40, -75, 51, 0, 14e6, 12, 6, 150, 2)
    b = build_features("v22", 40, -75, 51, 0, 14e6, 12, 6, 150, 2, doy=(6 - 1) * 30.5 + 15)
    np.testing.assert_array_equal(a, b)


def test_v20_day_night_estimate_and_north_vertex():
    x = build_features("v20", 0.0, 30.0, 10.0, 30.0, 7e6, 10, 12, 300, 9)[0]
    assert x.shape == (13,)
    assert x[10] == pytest.approx(math.cos(2 * math.pi * (10 + 30 / 15) / 24), abs=1e-6)
    assert x[11] == pytest.approx(1.0) and x[12] == pytest.approx(0.0)
    v22 = build_features("v22", 0.0, 30.0, 10.0, 30.0, 7e6, 10, 12, 300, 9)[0]
    assert v22[10] == pytest.approx(1.0, abs=1e-6)  # due north from the equator: vertex at 90 deg


def test_vectorised_matches_rows():
    rng = np.random.default_rng(0)
    n = 50
    args = (rng.uniform(-60, 60, n), rng.uniform(-180, 180, n), rng.uniform(-60, 60, n),
            rng.uniform(-180, 180, n), rng.choice([1.8366e6, 14.0971e6, 28.1246e6], n),
            rng.integers(0, 24, n), rng.integers(1, 13, n), rng.uniform(60, 300, n), rng.uniform(0, 9, n))
    full = build_features("v22", *args)
    for i in (0, 17, 49):
        one = build_features("v22", *(a[i] for a in args))
        np.testing.assert_allclose(full[i], one[0], rtol=1e-6)
