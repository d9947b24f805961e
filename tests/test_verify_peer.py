"""Parity with the peer's own tool (PyPI `ionis-validate`): every TST-900 and KI7MT test we label
`original` computes the value and verdict its test functions compute, on the published V22-gamma,
on V20 (the peer's functions fed V20 features, the only right way to drive them for that layout)
and on a checkpoint this tool trains on demo data and exports with `export --peer`."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.checkpoint import load_model, save_safetensors
from engine.cli import main
from engine.data.client import connect
from engine.demo.seed import seed_demo
from engine.model import IonisGate
from engine.settings import DatabaseSettings
from engine.verify import load_specs, run_suite, select

pytest.importorskip("ionis_validate", reason="the peer's tool is not installed (pip install -e '.[test]')")

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("peer_validate", ROOT / "scripts" / "peer_validate.py")
peer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(peer)

DATABASE = "verify_peer"
# The unit each peer TST-900 function judges in -> the Result field that holds it.
FIELD = {"TST-905": "value_sigma", "TST-906": "value_sigma", "TST-910": "value_sigma",
         "TST-908": "value", "TST-909": "value"}


@pytest.fixture(scope="module")
def demo_export(chdb_path, tmp_path_factory, one_torch_thread) -> tuple[Path, Path]:
    """A checkpoint trained here for one epoch on demo data, and its peer export."""
    tmp = tmp_path_factory.mktemp("peer")
    db = DatabaseSettings(path=chdb_path, database=DATABASE, table="demo")
    seed_demo(connect(db), db, 3000, seed=5)
    cfg = tmp / "s.toml"
    cfg.write_text(f'[database]\npath = "{chdb_path}"\ndatabase = "{DATABASE}"\ntable = "demo"\n'
                   f'[train]\nepochs = 1\nbatch_size = 512\ndevice = "cpu"\n')
    assert main(["--config", str(cfg), "train", "--run-dir", str(tmp / "run")]) == 0
    ckpt = tmp / "run" / "best.safetensors"
    assert main(["export", str(ckpt), "--peer", str(tmp / "peer")]) == 0
    return ckpt, tmp / "peer" / "config.json"


def _cases(request, demo: bool):
    if demo:
        ckpt, cfg = request.getfixturevalue("demo_export")
        return ckpt, cfg, cfg.with_name(json.loads(cfg.read_text())["checkpoint"]), "v22"
    name = request.param
    ck = request.getfixturevalue(f"{name}_file")
    return ck, ck.with_name(f"config_{name}.json"), ck, name


@pytest.fixture(params=["v22", "v20", "demo"])
def model_case(request):
    if request.param == "demo":
        return _cases(request, True)
    return _cases(request, False)


def _ours(ckpt: Path):
    return {r.id: r for r in run_suite(load_model(ckpt), select(load_specs(), ["band_time", "ki7mt"])).results}


def test_tst900_values_and_verdicts_equal_the_peers(model_case):
    ckpt, cfg, weights, features = model_case
    ours = _ours(ckpt)
    theirs = peer.tst900(cfg, weights, features)
    assert set(theirs) == {i for i, r in ours.items() if r.group == "band_time" and r.original}
    for tid, (ok, value) in theirs.items():
        r = ours[tid]
        got = getattr(r, FIELD.get(tid, "value_db"))
        assert got == pytest.approx(value, abs=1e-4), f"{tid}: ours {got} vs peer {value}"
        assert (r.status == "pass") is ok, f"{tid}: ours {r.status}, peer {'PASS' if ok else 'FAIL'}"


def test_ki7mt_raw_override_and_gates_equal_the_peers(model_case):
    ckpt, cfg, weights, features = model_case
    ours = _ours(ckpt)
    theirs = peer.ki7mt(cfg, weights, features)
    for tid, raw in theirs["raw"].items():
        r, ovr, audit = ours[tid], theirs["override"][tid], theirs["audit"][tid]
        assert (r.status == "pass") is bool(raw["passed"]), f"{tid} raw"
        assert (r.override_status == "pass") is bool(ovr["passed"]), f"{tid} override"
        if audit["type"] == "single":
            assert r.value_sigma == pytest.approx(audit["raw_sigma"], abs=1e-4), tid
            assert r.override_value == pytest.approx(audit["ovr_sigma"], abs=1e-4), tid
            assert bool(r.override_fired) is bool(audit["was_overridden"]), tid
        else:  # the peer's group means over its per-band sigmas
            spec = next(s for s in load_specs() if s.id == tid)
            better, worse = spec.conditions["better"], spec.conditions["worse"]
            for key, mine in (("raw_preds", r.value_sigma), ("ovr_preds", r.override_value)):
                p = audit[key]
                gap = sum(p[b] for b in better) / len(better) - sum(p[b] for b in worse) / len(worse)
                assert mine == pytest.approx(gap, abs=1e-4), f"{tid} {key}"
    gate = ours["KI7MT-GATES"]
    assert [g["passed"] for g in gate.extra["gates"]] == [ok for _, ok in theirs["gates"]]
    assert (gate.status == "pass") is theirs["passed"]


def test_verify_json_on_v22_gamma_matches_the_peer(capsys, v22_file):
    """The Must-hold: `verify --json` on V22-gamma, TST-900 values to 1e-4 and verdicts as the
    peer's functions give them; KI7MT raw 16/17, override 17/17, group PASS."""
    assert main(["verify", "--checkpoint", str(v22_file), "--json", "--group", "band_time,ki7mt"]) == 1
    items = {i["id"]: i for i in json.loads(capsys.readouterr().out)}
    theirs = peer.tst900(v22_file.with_name("config_v22.json"), v22_file)
    for tid, (ok, value) in theirs.items():
        got = items[tid][FIELD.get(tid, "value_db")]
        assert got == pytest.approx(value, abs=1e-4) and items[tid]["passed"] is ok, tid
    ki = [i for i in items.values() if i["group"] == "ki7mt" and i["override"] is not None]
    hard = [i for i in ki if not i["soft"]]
    assert len(hard) == 17 and sum(i["status"] == "pass" for i in hard) == 16
    assert sum(i["override"]["status"] == "pass" for i in hard) == 17
    assert items["KI7MT-005"]["status"] == "fail" and items["KI7MT-005"]["override"]["status"] == "pass"
    # The group verdict is the evidence, counted once; its 18 tests are reported, judged by it.
    assert items["KI7MT-GATES"]["status"] == "pass" and items["KI7MT-GATES"]["counted"] is True
    assert all(i["in_verdict"] and not i["counted"] for i in ki)


def test_exported_checkpoint_runs_in_the_peers_cli(demo_export):
    """The peer's own command line predicts from the export what we predict from the original."""
    ckpt, cfg = demo_export
    meta = json.loads(next(cfg.parent.glob("*_meta.json")).read_text())
    assert meta["val_rmse"] > 0 and -1 <= meta["val_pearson"] <= 1
    assert meta["data_provenance"]["kind"] == "demo"  # where the weights came from travels along
    exe = Path(sys.executable).with_name("ionis-validate")
    out = subprocess.run([str(exe), "predict", "--config", str(cfg), "--tx-grid", "FN20", "--rx-grid", "IO91",
                          "--band", "20m", "--sfi", "150", "--kp", "2", "--hour", "14", "--month", "6",
                          "--day-of-year", "172"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if "Raw Model:" in x)
    theirs = float(line.split(":")[1].split()[0])
    from engine.predict import Path_, predict_one
    mine = predict_one(load_model(ckpt), Path_.parse("FN20", "IO91", "20m", 14, 6, 172), 150, 2)["sigma"]
    assert mine == pytest.approx(theirs, abs=1e-3)  # the CLI prints three decimals


def test_a_layout_the_peer_cannot_feed_is_refused(tmp_path, capsys, v20_file):
    ours_v20 = save_safetensors(IonisGate("v20"), tmp_path / "v20.safetensors")
    for src in (ours_v20, v20_file):
        assert main(["export", str(src), "--peer", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert "error:" in err and "v20 feature layout" in err and "ionis-validate builds V22 features" in err
    assert not (tmp_path / "out").exists()  # refused before anything is written
