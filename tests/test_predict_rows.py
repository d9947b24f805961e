"""predict_rows, the one batched inference path, against predict_parts row by row."""

import numpy as np
import pytest

from engine.bands import parse_band
from engine.checkpoint import load_model
from engine.errors import InputError
from engine.predict import Path_, predict_parts, predict_rows


@pytest.fixture(scope="module")
def v22(v22_file):
    return load_model(v22_file)


def test_rows_match_single_path_predictions(v22):
    bands = ["20m", "40m", "10m"]
    tx, rx = [(39.14, -77.01), (-33.87, 151.21), (51.5, -0.12)], [(51.5, -0.12), (35.68, 139.69), (12.97, 77.59)]
    hours, months, days = [14, 3, 20], [6, 12, 3], [172, 350, 80]
    sfi, kp = [70.0, 150.0, 250.0], [0.0, 4.0, 8.0]
    r = predict_rows(v22, tx_lat=[t[0] for t in tx], tx_lon=[t[1] for t in tx],
                     rx_lat=[t[0] for t in rx], rx_lon=[t[1] for t in rx],
                     band_id=[parse_band(b).id for b in bands], hour=hours, month=months,
                     sfi=sfi, kp=kp, doy=days, chunk=2)  # chunk 2: crosses a chunk edge
    for i in range(3):
        one = predict_parts(v22, Path_.parse(tx[i], rx[i], bands[i], hours[i], months[i], days[i]),
                            sfi[i], kp[i])
        for key in ("sigma", "db", "base", "sun_gate", "storm_gate", "sun", "storm"):
            assert r[key][i] == pytest.approx(float(one[key]), abs=1e-5), key
    assert r["db"].dtype == np.float32


def test_rows_refuse_bad_input(v22):
    ok = dict(tx_lat=0.0, tx_lon=0.0, rx_lat=10.0, rx_lon=10.0, band_id=107, hour=12, month=6,
              sfi=100.0, kp=2.0)
    with pytest.raises(InputError, match="SFI"):
        predict_rows(v22, **{**ok, "sfi": [100.0, 401.0]})
    with pytest.raises(InputError, match="Kp"):
        predict_rows(v22, **{**ok, "kp": np.nan})
    with pytest.raises(InputError, match="unknown band"):
        predict_rows(v22, **{**ok, "band_id": 14})
