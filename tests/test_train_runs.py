"""The runs list and metrics reader survive broken, partial and stale run folders."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from engine.settings import Settings
from engine.train import events as ev
from engine.train.runs import list_runs, read_metrics
from engine.train.session import TrainingSession
from engine.train.synthetic import synthetic_rows

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]  # these train


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def real_run(tmp_path):
    s = Settings()
    s.runs.dir = str(tmp_path / "runs")
    s.train.device, s.train.batch_size, s.train.epochs = "cpu", 256, 2
    sess = TrainingSession(s, rows=synthetic_rows(1500, seed=3))
    assert sess.run().state == ev.FINISHED
    return sess


def test_list_runs_reads_good_runs_and_survives_broken_ones(tmp_path, real_run):
    runs = tmp_path / "runs"
    good = json.loads((real_run.run_dir / "state.json").read_text())
    line = read_metrics(real_run.run_dir)[-1]

    # Corrupt state.json, metrics with a torn last line, no checkpoint.
    _write(runs / "20200101-000000-v22" / "state.json", "{not json")
    torn = json.dumps({**line, "epoch": 1, "epochs": 5, "val_loss": 0.9, "val_pearson": 0.3}) + "\n"
    torn += json.dumps({**line, "epoch": 2, "epochs": 5, "val_loss": 0.7, "val_pearson": 0.4,
                        "val_rmse_db": 5.5}) + "\n" + '{"epoch": 3, "val_lo'
    _write(runs / "20200101-000000-v22" / "metrics.jsonl", torn)
    # Said "training" but its process is gone: interrupted, and resumable from its last.pt.
    crashed = runs / "20210101-000000-v20"
    _write(crashed / "state.json", json.dumps({
        "state": "training", "pid": _dead_pid(), "host": good["host"], "epochs_done": 3,
        "epochs_total": 10, "created": "2021-01-01T00:00:00+00:00"}))
    (crashed / "last.pt").write_bytes(b"x")
    # Not runs at all: an empty folder, a folder of other files, a plain file.
    (runs / "empty").mkdir()
    _write(runs / "notes" / "readme.txt", "hello")
    _write(runs / "stray.txt", "hello")

    infos = {r.run_id: r for r in list_runs(runs)}
    assert set(infos) == {real_run.run_id, "20200101-000000-v22", "20210101-000000-v20"}
    ok = infos[real_run.run_id]
    assert (ok.state, ok.epochs_done, ok.epochs_total, ok.resumable) == ("finished", 2, 2, False)
    assert ok.best_val_pearson == good["best_val_pearson"] and ok.best_val_rmse_db == good["best_val_rmse_db"]
    broken = infos["20200101-000000-v22"]
    assert (broken.state, broken.epochs_done, broken.epochs_total) == ("unknown", 2, 5)
    assert (broken.best_val_pearson, broken.best_val_rmse_db, broken.resumable) == (0.4, 5.5, False)
    assert broken.created == datetime(2020, 1, 1).astimezone(UTC)
    gone = infos["20210101-000000-v20"]
    assert (gone.state, gone.epochs_done, gone.resumable) == ("interrupted", 3, True)
    # Newest first.
    assert [r.run_id for r in list_runs(runs)] == [real_run.run_id, "20210101-000000-v20", "20200101-000000-v22"]


def test_list_runs_of_a_missing_folder_is_empty(tmp_path):
    assert list_runs(tmp_path / "nowhere") == []


def test_read_metrics_skips_a_torn_last_line(tmp_path):
    assert read_metrics(tmp_path) == []
    _write(tmp_path / "metrics.jsonl", '{"epoch": 1}\n{"epoch": 2}\n{"epoch": 3, "tr')
    assert read_metrics(tmp_path) == [{"epoch": 1}, {"epoch": 2}]


def test_two_runs_started_in_the_same_second_get_distinct_folders(tmp_path):
    from engine.train.rundir import RunFolder

    made = [RunFolder.create(tmp_path, "v22") for _ in range(3)]
    assert len({f.path for f in made}) == 3 and all(f.path.is_dir() for f in made)
    assert all(f.run_id[:16].endswith("-") and f.run_id[16:19] == "v22" for f in made)


def test_an_explicit_run_dir_must_be_new_or_empty(tmp_path):
    from engine.errors import InputError
    from engine.train.rundir import RunFolder

    _write(tmp_path / "used" / "metrics.jsonl", "")
    with pytest.raises(InputError, match="--resume"):
        RunFolder.create_at(tmp_path / "used")
    assert RunFolder.create_at(tmp_path / "fresh").run_id == "fresh"


def test_one_live_rule_covers_a_trainer_still_opening_its_run(tmp_path):
    """A trainer that has opened a run folder (state.json "idle", its lock held) is live for
    everyone: not offered for resume (a second trainer would be refused), attachable, and
    interrupted once its process is gone. Before one is_live() rule, "idle" counted as not
    live in the runs list but live in the app."""
    from engine.train.runs import INTERRUPTED, is_live, run_info

    s = Settings()
    s.runs.dir, s.train.device = str(tmp_path / "runs"), "cpu"
    sess = TrainingSession(s, rows=synthetic_rows(500, seed=1))  # opened, not yet run
    (sess.run_dir / "last.pt").write_bytes(b"x")  # as a resumed run's folder holds
    info = run_info(sess.run_dir)
    assert info.state == ev.IDLE and is_live(info.state) and not info.resumable
    sess._run_lock.release()  # what the kernel does when the trainer process dies
    info = run_info(sess.run_dir)
    assert info.state == INTERRUPTED and not is_live(info.state) and info.resumable
