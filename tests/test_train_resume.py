"""Resume gives exactly the uninterrupted run; a non-finite loss fails without touching checkpoints."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from engine.data.rows import COL, SignatureRows
from engine.errors import CheckpointError
from engine.settings import Settings, load_settings
from engine.train import events as ev
from engine.train.rundir import load_run_settings, resume_settings
from engine.train.runs import read_metrics
from engine.train.session import TIMING_KEYS, TrainingSession
from engine.train.synthetic import synthetic_rows

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]  # these train


def make_settings(tmp_path, **train) -> Settings:
    s = Settings()
    s.runs.dir = str(tmp_path / "runs")
    s.train.device = "cpu"
    s.train.batch_size = 256
    s.train.epochs = 4
    s.train.progress_interval = 60.0
    for k, v in train.items():
        setattr(s.train, k, v)
    return s


@pytest.fixture(scope="module")
def rows() -> SignatureRows:
    return synthetic_rows(2500, seed=5)


def _untimed(lines: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k not in TIMING_KEYS} for m in lines]


def _stop_when(pred):
    """on_event that stops its session when pred(event) first holds."""
    box: dict = {}

    def on_event(e):
        if "session" in box and pred(e) and not box.get("done"):
            box["done"] = True
            box["session"].stop()
    return box, on_event


@pytest.fixture(scope="module")
def uninterrupted(rows, tmp_path_factory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("full")
    sess = TrainingSession(make_settings(tmp), rows=rows)
    assert sess.run().state == ev.FINISHED
    return read_metrics(sess.run_dir)


@pytest.mark.parametrize("where", ["epoch boundary", "mid epoch"])
def test_resume_gives_the_same_metrics_as_an_uninterrupted_run(tmp_path, rows, uninterrupted, where):
    if where == "epoch boundary":
        box, on_event = _stop_when(lambda e: isinstance(e, ev.EpochEnd) and e.metrics["epoch"] == 2)
        settings = make_settings(tmp_path)
    else:  # progress after every step, stop during epoch 3
        box, on_event = _stop_when(lambda e: isinstance(e, ev.StepProgress) and (e.epoch, e.step) == (3, 4))
        settings = make_settings(tmp_path, progress_interval=1e-6)
    sess = TrainingSession(settings, rows=rows, on_event=on_event)
    box["session"] = sess
    end = sess.run()
    assert end.state == ev.STOPPED
    ck = torch.load(sess.run_dir / "last.pt", weights_only=True)
    assert (ck["epoch"], ck["step"]) == ((2, 0) if where == "epoch boundary" else (2, 5))
    done = read_metrics(sess.run_dir)
    assert [m["epoch"] for m in done] == [1, 2]
    if where == "epoch boundary":
        # A crash between writing a metrics line and last.pt leaves a line (and maybe a torn
        # one) the checkpoint does not cover; resume must drop them, not duplicate epoch 3.
        with open(sess.run_dir / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps({**done[-1], "epoch": 3}) + "\n" + '{"epoch": 4, "trai')

    notices: list = []
    resumed = TrainingSession(make_settings(tmp_path), rows=rows, resume=sess.run_dir,
                              on_event=notices.append)
    assert resumed.run_id == sess.run_id and resumed.run_dir == sess.run_dir
    end = resumed.run()
    assert end.state == ev.FINISHED, end.message
    started = next(e for e in notices if isinstance(e, ev.RunStarted))
    assert started.start_epoch == 3
    assert not [n for n in notices if isinstance(n, ev.Notice) and n.level == "warning"]
    after = read_metrics(sess.run_dir)
    assert [m["epoch"] for m in after] == [1, 2, 3, 4]
    assert _untimed(after) == _untimed(uninterrupted)
    assert json.loads((sess.run_dir / "state.json").read_text())["state"] == "finished"


def test_resume_keeps_the_runs_recipe_and_can_extend_epochs(tmp_path, rows):
    first = TrainingSession(make_settings(tmp_path, epochs=2), rows=rows)
    assert first.run().state == ev.FINISHED
    # What the CLI and app resume with: the run's recipe and total unless told otherwise.
    today = make_settings(tmp_path, epochs=30, lr_trunk=0.5, progress_interval=2.0)
    again, _ = resume_settings(first.run_dir, today)
    assert (again.train.epochs, again.train.lr_trunk, again.train.progress_interval) == (2, 3e-4, 2.0)
    assert resume_settings(first.run_dir, today, epochs=7)[0].train.epochs == 7
    notices: list = []
    # A finished run with the same total has nothing left to do, and does not load data.
    again = TrainingSession(make_settings(tmp_path, epochs=2), rows_loader=lambda p, c: pytest.fail("loaded"),
                            resume=first.run_dir, on_event=notices.append)
    end = again.run()
    assert end.state == ev.FINISHED and "already trained" in end.message
    # More epochs extend the run; a changed learning rate is ignored and said so.
    notices.clear()
    more = TrainingSession(make_settings(tmp_path, epochs=3, lr_trunk=0.5), rows=rows,
                           resume=first.run_dir, on_event=notices.append)
    assert more.run().state == ev.FINISHED
    texts = [n.text for n in notices if isinstance(n, ev.Notice)]
    assert any("ignoring changed settings: lr_trunk" in t for t in texts)
    assert any("epochs changed from 2 to 3" in t for t in texts)
    lines = read_metrics(first.run_dir)
    assert [m["epoch"] for m in lines] == [1, 2, 3] and lines[-1]["epochs"] == 3
    assert lines[-1]["lr_trunk"] < 3e-4  # the run's own rate (decayed), not 0.5
    assert json.loads((first.run_dir / "settings.json").read_text())["train"]["epochs"] == 3


def test_resume_under_env_overrides_keeps_the_saved_recipe(tmp_path, rows, monkeypatch):
    first = TrainingSession(make_settings(tmp_path, epochs=2), rows=rows)
    assert first.run().state == ev.FINISHED
    monkeypatch.chdir(tmp_path)  # no ./settings.toml: defaults + environment only
    for key, value in {"LR_TRUNK": "0.5", "BATCH_SIZE": "64", "EPOCHS": "9", "DEVICE": "cpu",
                       "PROGRESS_INTERVAL": "3.0", "SEED": "1"}.items():
        monkeypatch.setenv(f"IONIS_TRAIN__{key}", value)
    # The saved recipe is read as constructor arguments: the shell cannot rewrite it.
    saved = load_run_settings(first.run_dir).train
    assert (saved.lr_trunk, saved.batch_size, saved.epochs, saved.seed) == (3e-4, 256, 2, 42)
    merged, notes = resume_settings(first.run_dir, load_settings())
    t = merged.train
    assert (t.lr_trunk, t.batch_size, t.seed) == (3e-4, 256, 42)          # the run's recipe
    assert (t.epochs, t.device, t.progress_interval) == (2, "cpu", 3.0)    # documented keys
    assert resume_settings(first.run_dir, load_settings(), epochs=9)[0].train.epochs == 9
    assert len(notes) == 1
    assert "epochs=2, device=cpu, progress_interval=3.0" in notes[0]
    assert "ignoring changed settings: batch_size, lr_trunk, seed" in notes[0]


def test_resume_refuses_a_folder_without_a_usable_checkpoint(tmp_path, rows):
    with pytest.raises(CheckpointError, match="holds no last.pt"):
        TrainingSession(make_settings(tmp_path), rows=rows, resume=tmp_path)
    (tmp_path / "last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        TrainingSession(make_settings(tmp_path), rows=rows, resume=tmp_path)


def _overflowing(rows: SignatureRows, fraction: float = 0.5) -> SignatureRows:
    """Finite rows whose weighted loss sum overflows float32: the loss becomes inf."""
    a = rows.array.copy()
    idx = np.random.default_rng(0).random(len(a)) < fraction
    a[idx, COL["median_snr"]] = 3.0e38
    return SignatureRows(a)


def test_non_finite_loss_fails_and_keeps_the_last_good_checkpoint(tmp_path, rows):
    box, on_event = _stop_when(lambda e: isinstance(e, ev.EpochEnd) and e.metrics["epoch"] == 2)
    sess = TrainingSession(make_settings(tmp_path), rows=rows, on_event=on_event)
    box["session"] = sess
    assert sess.run().state == ev.STOPPED
    last, best = sess.run_dir / "last.pt", sess.run_dir / "best.safetensors"
    last_bytes, best_bytes = last.read_bytes(), best.read_bytes()

    events: list = []
    end = TrainingSession(make_settings(tmp_path), rows=_overflowing(rows), resume=sess.run_dir,
                          on_event=events.append, force=True).run()  # other rows: forced
    assert end.state == ev.FAILED
    assert end.message == f"loss became inf at epoch 3 step 1; last good checkpoint kept at {last}"
    assert last.read_bytes() == last_bytes and best.read_bytes() == best_bytes
    assert not any(isinstance(e, ev.CheckpointSaved | ev.EpochEnd) for e in events)
    assert [m["epoch"] for m in read_metrics(sess.run_dir)] == [1, 2]
    st = json.loads((sess.run_dir / "state.json").read_text())
    assert st["state"] == "failed" and st["message"] == end.message and st["epochs_done"] == 2
    assert not [p for p in sess.run_dir.iterdir() if p.name.endswith(".tmp")]


def test_non_finite_loss_in_the_first_epoch_writes_nothing(tmp_path, rows):
    sess = TrainingSession(make_settings(tmp_path, progress_interval=1e-6), rows=_overflowing(rows))
    end = sess.run()
    assert end.state == ev.FAILED
    assert "loss became inf at epoch 1 step 1; no checkpoint had been written yet" == end.message
    assert not (sess.run_dir / "last.pt").exists() and not (sess.run_dir / "best.safetensors").exists()


def test_mid_epoch_resume_on_different_data_redoes_the_epoch(tmp_path, rows):
    # The saved step and partial losses index the old data's batches; on other data they
    # must not be reused (they used to crash the run with a tensor size error).
    box, on_event = _stop_when(lambda e: isinstance(e, ev.StepProgress) and (e.epoch, e.step) == (1, 6))
    sess = TrainingSession(make_settings(tmp_path, progress_interval=1e-6), rows=rows, on_event=on_event)
    box["session"] = sess
    assert sess.run().state == ev.STOPPED
    assert torch.load(sess.run_dir / "last.pt", weights_only=True)["step"] == 7
    notices: list = []
    end = TrainingSession(make_settings(tmp_path), rows=synthetic_rows(600, seed=5), resume=sess.run_dir,
                          on_event=notices.append, force=True).run()
    assert end.state == ev.FINISHED, end.message
    assert any(isinstance(n, ev.Notice) and "data changed (train/val rows" in n.text for n in notices)
    assert [m["epoch"] for m in read_metrics(sess.run_dir)] == [1, 2, 3, 4]


def test_a_stop_in_an_epochs_last_step_waits_for_its_end_and_resumes_in_order(tmp_path, rows):
    """A stop (or checkpoint, or pause) asked during the last step of an epoch is honoured at
    the epoch's end: a checkpoint saved after every step of an epoch but before its end made
    the resumed run step the scheduler before the optimizer (PyTorch's UserWarning)."""
    import warnings

    started: dict = {}  # a stop asked after step k is honoured after step k + 1

    def last_step(e):
        if isinstance(e, ev.RunStarted):
            started["steps"] = -(-e.rows_train // 256)
        return isinstance(e, ev.StepProgress) and (e.epoch, e.step) == (1, started["steps"] - 1)
    box, on_event = _stop_when(last_step)
    sess = TrainingSession(make_settings(tmp_path, progress_interval=1e-6), rows=rows, on_event=on_event)
    box["session"] = sess
    end = sess.run()
    assert end.state == ev.STOPPED and "after epoch 1" in end.message, end.message
    ck = torch.load(sess.run_dir / "last.pt", weights_only=True)
    assert (ck["epoch"], ck["step"]) == (1, 0)
    assert [m["epoch"] for m in read_metrics(sess.run_dir)] == [1]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r".*lr_scheduler\.step\(\)")
        assert TrainingSession(make_settings(tmp_path), rows=rows, resume=sess.run_dir).run().state == ev.FINISHED
    lines = read_metrics(sess.run_dir)
    assert [m["epoch"] for m in lines] == list(range(1, len(lines) + 1)) and len(lines) > 1
    assert all(m["samples_per_s"] > 0 for m in lines)


def _cosine(tr, e: int, total: int) -> float:
    """The trunk rate of 1-based epoch e in a fresh `total`-epoch cosine schedule."""
    return tr.eta_min + (tr.lr_trunk - tr.eta_min) * (1 + math.cos(math.pi * (e - 1) / total)) / 2


def _weights(run_dir) -> dict:
    return torch.load(run_dir / "last.pt", weights_only=True)["model"]


@pytest.mark.parametrize("first_total", [1, 6], ids=["extend 1 to 3", "shorten 6 to 3 after epoch 1"])
def test_a_resumed_run_trains_as_a_fresh_run_with_the_new_total(tmp_path, rows, first_total):
    fresh = TrainingSession(make_settings(tmp_path / "fresh", epochs=3), rows=rows)
    assert fresh.run().state == ev.FINISHED
    box, on_event = _stop_when(lambda e: isinstance(e, ev.EpochEnd) and e.metrics["epoch"] == 1)
    first = TrainingSession(make_settings(tmp_path, epochs=first_total), rows=rows, on_event=on_event)
    box["session"] = first
    assert first.run().state in (ev.FINISHED, ev.STOPPED)
    resumed = TrainingSession(make_settings(tmp_path, epochs=3), rows=rows, resume=first.run_dir)
    assert resumed.run().state == ev.FINISHED
    tr = make_settings(tmp_path).train
    got, want = read_metrics(first.run_dir), read_metrics(fresh.run_dir)
    assert [m["lr_trunk"] for m in got] == [m["lr_trunk"] for m in want]
    assert [m["lr_trunk"] for m in got] == pytest.approx([_cosine(tr, e, 3) for e in (1, 2, 3)], rel=1e-6)
    a, b = _weights(first.run_dir), _weights(fresh.run_dir)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-6, atol=1e-7, msg=k)


def test_shortening_a_run_late_takes_the_short_schedules_rate(tmp_path, rows):
    # The 80 -> 18 at epoch 17, scaled down: 8 -> 4 after epoch 3.
    box, on_event = _stop_when(lambda e: isinstance(e, ev.EpochEnd) and e.metrics["epoch"] == 3)
    first = TrainingSession(make_settings(tmp_path, epochs=8), rows=rows, on_event=on_event)
    box["session"] = first
    assert first.run().state == ev.STOPPED
    assert TrainingSession(make_settings(tmp_path, epochs=4), rows=rows, resume=first.run_dir).run().state == ev.FINISHED
    tr = make_settings(tmp_path).train
    lines = read_metrics(first.run_dir)
    assert [m["epoch"] for m in lines] == [1, 2, 3, 4]
    assert lines[3]["lr_trunk"] == pytest.approx(_cosine(tr, 4, 4), rel=1e-6)
    assert all(m["lr_sidecar"] >= tr.eta_min for m in lines)
