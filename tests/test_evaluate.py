"""`ionis-tui evaluate` and engine.evaluate: per-spot arrays from real spot files and signature
tables, metrics that mean what they say, baselines, aggregation, reports, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.checkpoint import load_model
from engine.cli import main
from engine.demo.space_weather import observed_days
from engine.errors import InputError
from engine.evaluate.aggregate import aggregate
from engine.evaluate.metrics import compare, skill, stats
from engine.evaluate.observations import Observations, load_observations, spots_from_csv
from engine.evaluate.report import to_markdown, to_text
from engine.evaluate.run import evaluate
from engine.evaluate.tables import climatology, signatures_from_table
from engine.settings import DatabaseSettings
from tests.conftest import REAL_SPOTS

HEADER = "time_utc,band,tx_loc,rx_loc,snr,kp_3h,f107_obs\n"


@pytest.fixture(scope="module")
def real_spots():
    if not REAL_SPOTS.is_file():
        pytest.skip(f"real spot file not found at {REAL_SPOTS} (shared/ must sit beside the repo)")
    return REAL_SPOTS


@pytest.fixture(scope="module")
def v22(v22_file):
    return load_model(v22_file)


@pytest.fixture(scope="module")
def v22_real(v22, real_spots):
    return evaluate(v22, spots_from_csv(real_spots), "no training table in this test")


def test_v22_on_the_shared_real_spots_reproduces_the_issue_figures(v22_real):
    spots = v22_real.report["levels"]["spots"]["overall"]
    assert spots["n"] == 14053  # every shared spot has observed space weather in the package
    m, a = spots["model"], spots["baselines"]["band_mean"]
    assert m["pearson"] == pytest.approx(0.09, abs=0.05)
    assert m["rmse_db"] == pytest.approx(9.35, abs=0.3)
    assert a["rmse_db"] == pytest.approx(9.36, abs=0.3)
    assert abs(a["skill"]) < 0.01  # V22 is no better than predicting each band's mean
    assert spots["baselines"]["band_climatology"] == {"na": "no training table in this test"}
    assert v22_real.report["rows"]["file_column_disagreements"] == {"f107_obs": 0, "kp_3h": 0}
    bands = v22_real.report["levels"]["spots"]["bands"]
    assert bands["30m"]["n"] == 8869 and bands["10m"]["na"].startswith("fewer than")
    sig = v22_real.report["levels"]["signatures"]
    assert 0 < sig["n"] < 14053 and sig["overall"]["model"]["rmse_db"] > 0


def test_spot_arrays_match_what_training_sees(tmp_path):
    """Grid centres, integer UTC hour, the spot's day, the day's F10.7 and its 3-hour Kp."""
    f = tmp_path / "s.csv"
    f.write_text(HEADER + "2023-02-01T22:58:00Z,14,FN20ab,JO01xx,-12,,\n")
    o = spots_from_csv(f)
    sw = observed_days()
    i = int(np.flatnonzero(sw.dates == np.datetime64("2023-02-01"))[0])
    assert (o.hour[0], o.month[0], o.doy[0], o.band[0]) == (22, 2, 32, 107)
    assert o.sfi[0] == sw.sfi[i] and o.kp[0] == sw.kp[i, 7]  # 21-24z block
    assert o.tx_grid[0] == b"FN20" and o.latlon()[0][0] == pytest.approx(40.5)
    assert o.checks == {"f107_obs": 0, "kp_3h": 0}


def test_rows_that_cannot_be_evaluated_are_counted_not_invented(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text(HEADER + "2023-02-01T10:00:00Z,14,FN20,JO01,-12,9.0,999\n"   # file columns disagree
                 "2023-02-01T10:00:00Z,50,FN20,JO01,-12,,\n"                   # 6m: not a model band
                 "2023-02-01T10:00:00Z,14,XX99,JO01,-12,,\n"                   # not a grid
                 "1999-02-01T10:00:00Z,14,FN20,JO01,-12,,\n")                  # no space weather
    o = spots_from_csv(f)
    assert len(o) == 1 and o.read == 4
    assert o.dropped == {"unknown_band": 1, "bad_grid": 1, "bad_snr": 0, "no_space_weather": 1}
    assert o.checks == {"f107_obs": 1, "kp_3h": 1}  # the file's own columns are only checked


@pytest.mark.parametrize("body, expect", [
    ("1999-02-01T10:00:00Z,14,FN20,JO01,-12,,\n", "none of its 1 spots"),
    ("2023-02-01T10:00:00Z,50,FN20,JO01,-12,,\n", "unknown_band 1"),  # only 6m: no model band
    ("", "no spots"),
    ("2023-02-01T10:00:00Z,14,FN20\n", "different number of fields"),
    ("yesterday,14,FN20,JO01,-12,,\n", "not an ISO time"),
])
def test_bad_spot_files_are_refused(tmp_path, body, expect):
    f = tmp_path / "s.csv"
    f.write_text(HEADER + body)
    with pytest.raises(InputError, match=expect):
        spots_from_csv(f)


def test_missing_columns_and_missing_file(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="missing column"):
        spots_from_csv(f)
    with pytest.raises(InputError, match="not found"):
        spots_from_csv(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="exactly one"):
        load_observations()


def test_metrics_are_what_their_names_say():
    obs = np.array([-20.0, -10.0, -30.0, -15.0])
    pred = obs + np.array([1.0, -1.0, 3.0, -3.0])
    s = stats(pred, obs)
    assert s["rmse_db"] == pytest.approx(np.sqrt(5.0), abs=1e-4) and s["mae_db"] == 2.0 and s["bias_db"] == 0.0
    assert s["pearson"] == pytest.approx(np.corrcoef(pred, obs)[0, 1], abs=1e-4)
    assert stats(np.full(4, -18.0), obs)["pearson"] is None  # constant: undefined, not 0
    c = compare(obs.copy(), obs, {"band_mean": np.full(4, -18.0), "band_climatology": "why"})
    assert c["baselines"]["band_mean"]["skill"] == 1.0  # a perfect model
    assert c["baselines"]["band_climatology"] == {"na": "why"}
    assert skill({"rmse_db": 2.0}, {"rmse_db": 1.0}) == -3.0  # worse than the baseline


def _obs(**cols) -> Observations:
    n = len(cols["snr"])
    base = dict(tx_grid=np.array([b"FN20"] * n), rx_grid=np.array([b"JO01"] * n),
                band=np.full(n, 107, np.int16), hour=np.full(n, 12, np.int8), month=np.full(n, 6, np.int8),
                doy=np.full(n, 160, np.int16), sfi=np.full(n, 100, np.float32), kp=np.full(n, 2, np.float32))
    base.update(cols)
    return Observations("spots", "test", **base)


def test_aggregation_is_a_median_per_signature_bucket_with_three_spots():
    o = _obs(snr=np.array([-10, -20, -12, -5, -7], np.float32), hour=np.array([1, 1, 1, 2, 2], np.int8),
             sfi=np.array([100, 110, 120, 90, 90], np.float32))
    a = aggregate(o, min_spots=3)
    assert len(a) == 1 and a.snr[0] == -12 and a.sfi[0] == pytest.approx(110) and a.doy is None
    assert a.dropped == {"fewer_than_3_spots": 1}
    assert len(aggregate(o, min_spots=2)) == 2


def test_signature_table_source_and_training_climatology(chdb_path, v22, tmp_path, capsys):
    from engine.data.client import connect
    from engine.data.schema import ensure_table

    db = DatabaseSettings(path=chdb_path, table="eval_sig")
    client = connect(db)
    ensure_table(client, db)
    client.command(f"TRUNCATE TABLE {db.qualified_table}")
    client.command(f"INSERT INTO {db.qualified_table} (tx_grid_4, rx_grid_4, band, hour, month, median_snr, "
                   "spot_count, avg_sfi, avg_kp) VALUES ('FN20','JO01',107,12,6,-10,10,120,2), "
                   "('FN20','JO01',107,13,6,-20,30,120,2), ('EM10','JO01',105,2,1,-15,5,0,0)")
    o = signatures_from_table(db, None)
    assert (len(o), o.read, o.level, o.doy) == (2, 3, "signatures", None)  # the SFI-less row is left out
    clim = climatology(db, None)
    assert clim == {(107, 12): (-100.0, 10.0), (107, 13): (-600.0, 30.0)}
    ev = evaluate(v22, o, clim, min_band_rows=1)
    base = ev.report["levels"]["signatures"]["overall"]["baselines"]
    assert base["band_climatology"]["bias_db"] == pytest.approx(-17.5 + 15.0)  # weighted mean -17.5
    assert base["band_hour_climatology"]["rmse_db"] == 0.0  # exact per (band, hour) here
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'[database]\npath = "{chdb_path}"\ntable = "eval_sig"\n')
    code = main(["--config", str(cfg), "evaluate", "--checkpoint", str(v22.path), "--table", "eval_sig", "--json"])
    rep = json.loads(capsys.readouterr().out)
    assert code == 0 and rep["levels"]["signatures"]["n"] == 2 and "spots" not in rep["levels"]


def test_cli_text_json_markdown(capsys, v22_file, real_spots, tmp_path):
    md = tmp_path / "r.md"
    code = main(["evaluate", "--checkpoint", str(v22_file), "--spots", str(real_spots), "--climatology",
                 "none", "--group", "spots", "--json", "--markdown", str(md)])
    rep = json.loads(capsys.readouterr().out)
    assert code == 0 and list(rep["levels"]) == ["spots"]
    for k in ("pearson", "rmse_db", "mae_db", "bias_db", "n"):
        assert k in rep["levels"]["spots"]["overall"]["model"]
        assert k in rep["levels"]["spots"]["bands"]["20m"]["baselines"]["band_mean"]
    assert md.read_text() == to_markdown(rep) and "| (a) band mean |" in md.read_text()
    assert "(a) band mean" in to_text(rep) and "baselines b, c: no training table" in to_text(rep)


@pytest.mark.parametrize("args, expect", [
    (["--spots", "nope.csv"], "spot file not found"),
    (["--spots", "{spots}", "--from", "2023-01"], "--from/--to"),
    ([], "no observations"),
    (["--table", "a b"], "not a plain identifier"),
])
def test_cli_bad_input_exits_2(capsys, v22_file, real_spots, args, expect):
    args = [a.replace("{spots}", str(real_spots)) for a in args]
    code = main(["evaluate", "--checkpoint", str(v22_file), "--climatology", "none", *args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and expect in err and err.count("\n") == 1


def test_cli_unreadable_checkpoint_exits_2(capsys, real_spots, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    code = main(["evaluate", "--checkpoint", str(bad), "--spots", str(real_spots), "--climatology", "none"])
    assert code == 2 and capsys.readouterr().err.startswith("error: ")


def test_distinct_inputs_give_the_same_predictions_as_every_row(v22, real_spots):
    """Spots sharing one model input are predicted once; the result is the row-by-row one."""
    from engine.evaluate.run import distinct_inputs
    from engine.predict import predict_rows

    o = spots_from_csv(real_spots)
    first, inverse = distinct_inputs(o)
    assert len(first) == 5777 and inverse.max() == len(first) - 1  # 14,053 spots, 2.4 per input
    tla, tlo, rla, rlo = o.latlon()
    full = predict_rows(v22, tx_lat=tla, tx_lon=tlo, rx_lat=rla, rx_lon=rlo, band_id=o.band, hour=o.hour,
                        month=o.month, sfi=o.sfi, kp=o.kp, doy=o.doy)["db"]
    got = evaluate(v22, o, "none", levels=("spots",)).levels["spots"].pred
    np.testing.assert_allclose(got, full, atol=1e-4)


def test_voacap_baseline_on_a_few_spots(v22, tmp_path, capsys):
    pytest.importorskip("dvoacap", reason="optional extra ionis-tui[voacap] not installed")
    from engine.evaluate.voacap import ssn_from_sfi

    assert ssn_from_sfi([63.7, 150.0])[0] == 0 and 90 <= ssn_from_sfi([150.0])[0] <= 110
    f = tmp_path / "s.csv"
    f.write_text(HEADER + "2023-02-01T11:10:00Z,10,OF78,CM87,-21,,\n2023-02-01T11:20:00Z,10,OF78,CM87,-19,,\n"
                 "2023-02-01T13:10:00Z,14,OF78,RF72,-18,,\n")
    code = main(["evaluate", "--checkpoint", str(v22.path), "--spots", str(f), "--climatology", "none",
                 "--group", "spots", "--baseline", "voacap", "--json"])
    rep = json.loads(capsys.readouterr().out)
    v = rep["levels"]["spots"]["overall"]["baselines"]["voacap"]
    assert code == 0 and v["n"] == 3 and v["rmse_db"] is not None and "isotropic" in rep["voacap"]
