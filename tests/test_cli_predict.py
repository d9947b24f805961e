"""`ionis-tui predict` on the published V22 checkpoint, including every refusal."""

import json

import pytest

from engine.checkpoint import load_model
from engine.cli import main
from engine.predict import Path_, predict_one


def _run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_predict_json_matches_engine(capsys, v22_file):
    code, out, _ = _run(capsys, "predict", "--checkpoint", str(v22_file), "--tx", "W3", "--rx", "G",
                        "--band", "20m", "--hour", "14", "--month", "6", "--day", "172",
                        "--sfi", "150", "--kp", "2", "--json")
    assert code == 0
    r = json.loads(out)
    assert set(r) >= {"sigma", "db", "base", "sun_gate", "storm_gate"}
    ref = predict_one(load_model(v22_file), Path_.parse("W3", "G", "20m", 14, 6, 172), 150, 2)
    assert r["sigma"] == pytest.approx(ref["sigma"], abs=1e-4)
    assert r["db"] == pytest.approx(ref["sigma"] * 6.7 - 17.53, abs=1e-3)
    assert 0.5 <= r["sun_gate"] <= 2.0


def test_predict_more_sun_helps_more_storm_hurts(v22_file):
    lm = load_model(v22_file)
    p = Path_.parse("FN20", "JO01", "20m", 14, 6, 172)
    assert predict_one(lm, p, 200, 2)["db"] > predict_one(lm, p, 70, 2)["db"]
    assert predict_one(lm, p, 150, 0)["db"] > predict_one(lm, p, 150, 9)["db"]


def test_southern_and_western_coordinates(capsys, v22_file):
    code, out, err = _run(capsys, "predict", "--checkpoint", str(v22_file), "--tx", "-33.87,151.21",
                          "--rx", "-34.60,-58.38", "--band", "15m", "--hour", "22", "--month", "12",
                          "--sfi", "120", "--kp", "1")
    assert code == 0, err
    assert "dB" in out


@pytest.mark.parametrize("flag,value,needle", [
    ("--band", "6m", "unknown band"),
    ("--sfi", "450", "SFI"),
    ("--sfi", "nan", "SFI"),
    ("--kp", "9.5", "Kp"),
    ("--tx", "95,10", "latitude"),
    ("--rx", "XX99", "unknown location"),
    ("--hour", "24", "hour"),
    ("--month", "13", "month"),
])
def test_out_of_range_inputs_are_refused(capsys, v22_file, flag, value, needle):
    args = {"--tx": "W3", "--rx": "G", "--band": "20m", "--hour": "12", "--month": "6",
            "--sfi": "150", "--kp": "2"}
    args[flag] = value
    argv = ["predict", "--checkpoint", str(v22_file)] + [x for kv in args.items() for x in kv]
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert needle in err and err.startswith("error:")
    assert out == ""


def test_missing_checkpoint_is_an_error(capsys, tmp_path):
    code, _, err = _run(capsys, "predict", "--checkpoint", str(tmp_path / "x.safetensors"), "--tx", "W3",
                        "--rx", "G", "--band", "20m", "--hour", "12", "--month", "6", "--sfi", "150", "--kp", "2")
    assert code == 2 and "not found" in err
