"""A resume on data other than the run's is refused, saying what changed; --force continues it
as a new phase, recorded in metrics.jsonl and state.json and shown by `runs`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cli import main
from engine.data.client import connect
from engine.data.rows import COL
from engine.demo.seed import seed_demo
from engine.settings import DatabaseSettings, Settings
from engine.train.data_identity import DataIdentity, changes, resume_data_changes
from engine.train.runs import read_metrics, run_info
from engine.train.synthetic import synthetic_rows

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]  # these train

DATABASE = "resume_data"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key, value in {"RUNS__DIR": str(tmp_path / "runs"), "TRAIN__DEVICE": "cpu",
                       "TRAIN__BATCH_SIZE": "256", "TRAIN__PROGRESS_INTERVAL": "60"}.items():
        monkeypatch.setenv(f"IONIS_{key}", value)
    return tmp_path


def _rows(path, n: int, seed: int = 3):
    np.save(path, synthetic_rows(n, seed=seed).array)
    return str(path)


def test_changes_name_table_kind_and_rows():
    then = DataIdentity("db.t", "demo", 3000)
    assert changes(then, DataIdentity("db.t", "demo", 3000)) == []
    assert changes(then, DataIdentity("db.t", "spots", 819)) == ["data kind: demo then, spots now",
                                                                 "rows: 3,000 then, 819 now"]
    assert changes(then, DataIdentity("db.u", "demo", 3000)) == ["source: db.t then, db.u now"]


def test_resume_on_other_rows_is_refused_and_forced_it_is_a_new_phase(env, capsys):
    a, b = _rows(env / "a.npy", 1500), _rows(env / "b.npy", 1200, seed=4)
    run = env / "runs" / "r1"
    assert main(["train", "--rows-file", a, "--epochs", "1", "--run-dir", str(run)]) == 0
    capsys.readouterr()
    before = {f: (run / f).read_bytes() for f in ("state.json", "metrics.jsonl", "last.pt")}

    assert main(["train", "--resume", str(run), "--rows-file", b, "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the data of run r1 changed since it last trained (")
    assert "rows: 1,500 then, 1,200 now" in err and "--force" in err
    assert {f: (run / f).read_bytes() for f in before} == before  # nothing written
    # The check the app can make before offering a resume: the same answer.
    assert "rows: 1,500 then, 1,200 now" in resume_data_changes(run, Settings(), rows_file=b)

    assert main(["train", "--resume", str(run), "--rows-file", b, "--epochs", "2", "--force"]) == 0
    err = capsys.readouterr().err
    assert "continuing as phase 2 from epoch 2 (--force)" in err
    assert [(m["epoch"], m["phase"]) for m in read_metrics(run)] == [(1, 1), (2, 2)]
    st = json.loads((run / "state.json").read_text())
    assert st["phase"] == 2 and st["best_epoch"] == 2  # the best is tracked on the new data
    assert [p["phase"] for p in st["phases"]] == [1, 2] and st["phases"][1]["from_epoch"] == 2
    assert any("rows: 1,500 then, 1,200 now" in c for c in st["phases"][1]["changed"])
    assert run_info(run).phase == 2 and run_info(run).data_rows == 1200
    assert main(["runs", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)[0]
    assert (listed["phase"], listed["data"]["kind"], listed["data"]["rows"]) == (2, "file", 1200)
    assert main(["runs"]) == 0
    assert "file b.npy, phase 2" in capsys.readouterr().out


def test_same_counts_other_values_are_refused_after_loading_and_the_run_left_as_it_was(env, capsys):
    rows = env / "rows.npy"
    _rows(rows, 1500)
    run = env / "runs" / "r1"
    assert main(["train", "--rows-file", str(rows), "--epochs", "1", "--run-dir", str(run)]) == 0
    state = json.loads((run / "state.json").read_text())
    changed = synthetic_rows(1500, seed=3).array.copy()
    changed[:, COL["median_snr"]] += 0.25  # same file, same rows and split, other values
    np.save(rows, changed)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--rows-file", str(rows), "--epochs", "2"]) == 2
    assert "the rows' values (same counts, other checksum)" in capsys.readouterr().err
    after = json.loads((run / "state.json").read_text())
    assert (after["state"], after["epochs_total"], after["message"]) == (
        state["state"], state["epochs_total"], state["message"])
    assert [m["epoch"] for m in read_metrics(run)] == [1]
    assert run_info(run).state == "finished"


def test_a_demo_table_reseeded_with_other_rows_refuses_the_resume(env, chdb_path, capsys, monkeypatch):
    db = DatabaseSettings(path=chdb_path, database=DATABASE, table="sigs")
    seed_demo(connect(db), db, 3000, seed=5)
    for key, value in {"PATH": chdb_path, "DATABASE": DATABASE, "TABLE": "sigs"}.items():
        monkeypatch.setenv(f"IONIS_DATABASE__{key}", value)
    run = env / "runs" / "r1"
    assert main(["train", "--epochs", "1", "--run-dir", str(run)]) == 0
    assert run_info(run).data_kind == "demo" and run_info(run).data_table == f"{DATABASE}.sigs"
    seed_demo(connect(db), db, 800, seed=6)  # `data seed --rows 800` replaced the table
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert "rows: 3,000 then, 800 now" in err, err
    assert [m["epoch"] for m in read_metrics(run)] == [1]
    assert main(["runs"]) == 0
    assert f"demo {DATABASE}.sigs" in capsys.readouterr().out
