"""`ionis-tui matrix` through the real dispatcher: JSON for machines, a table for people,
and every input error as `error: ...` with exit status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.checkpoint import load_model
from engine.cli import main
from engine.matrix import compute_matrix, make_path


def _args(ckpt, *extra):
    return ["matrix", "--checkpoint", str(ckpt), "--tx", "W3", "--rx", "G", "--band", "20m",
            "--hour", "12", "--month", "6", *extra]


def test_json(v22_file, capsys):
    assert main(_args(v22_file, "--day", "172", "--sfi", "70,150,200", "--kp", "0,2,5,9", "--json")) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) >= {"sfi", "kp", "values", "units", "violations", "path"}
    assert d["sfi"] == [70, 150, 200] and d["kp"] == [0, 2, 5, 9] and d["units"] == "db"
    want = compute_matrix(load_model(v22_file), make_path("W3", "G", "20m", 12, 6, 172),
                          [70, 150, 200], [0, 2, 5, 9]).db
    np.testing.assert_allclose(d["values"], want, atol=1e-3)
    assert d["violations"] == []
    assert d["path"]["day"] == 172 and d["path"]["tx_light"] == "day"
    assert "ionis_v22_gamma" in d["path"]["model"]


def test_json_sigma_defaults(v22_file, capsys):
    assert main(_args(v22_file, "--units", "sigma", "--json")) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["units"] == "sigma" and len(d["sfi"]) == 6 and len(d["kp"]) == 10
    assert all(-5 < v < 3 for row in d["values"] for v in row)


def test_table(v22_file, capsys):
    assert main(_args(v22_file, "--sfi", "70,300", "--kp", "0,9")) == 0
    out = capsys.readouterr().out
    want = compute_matrix(load_model(v22_file), make_path("W3", "G", "20m", 12, 6), [70, 300], [0, 9]).db
    assert "rows SFI, columns Kp" in out and "distance 5,880 km" in out
    lines = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines() if ln.strip().startswith(("70 ", "300 "))}
    assert lines["70"] == [f"{want[0, 0]:+.2f}", f"{want[0, 1]:+.2f}"]
    assert lines["300"] == [f"{want[1, 0]:+.2f}", f"{want[1, 1]:+.2f}"]
    assert "monotonicity: OK" in out


@pytest.mark.parametrize("extra,match", [
    (["--tx", "ZZ99"], "unknown location 'ZZ99'"),
    (["--rx", "91,0"], "latitude"),
    (["--band", "11m"], "unknown band"),
    (["--sfi", "20,100"], "SFI 20 is outside"),
    (["--sfi", "70,,100"], "malformed"),
    (["--sfi", "seventy"], "not a number"),
    (["--kp", "0,10"], "Kp 10 is outside"),
    (["--kp", "0;9"], "not a number"),
    (["--hour", "25"], "hour"),
    (["--month", "0"], "month"),
    (["--day", "0"], "day of year"),
    (["--units", "watts"], "unknown units"),
])
def test_input_errors(v22_file, capsys, extra, match):
    assert main(_args(v22_file, *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and match in err


def test_missing_checkpoint(tmp_path, capsys):
    assert main(_args(tmp_path / "nope.safetensors")) == 2
    assert "checkpoint not found" in capsys.readouterr().err
