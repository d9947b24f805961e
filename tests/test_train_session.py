"""TrainingSession: metrics mean what they say, data checks, split, warnings, thread controls."""

from __future__ import annotations

import json
import math
import queue
import threading
import time
from statistics import NormalDist

import numpy as np
import pytest
import torch

from engine.bands import BY_ID
from engine.checkpoint import load_model
from engine.data.rows import COL, COLUMNS, SignatureRows
from engine.features import V22, build_features
from engine.predict import predict_parts
from engine.settings import Settings
from engine.train import events as ev
from engine.train.data_identity import DataIdentity
from engine.train.metrics import REF_PATH
from engine.train.prepare import count_leaked_paths
from engine.train.runs import list_runs, read_metrics
from engine.train.session import TrainingSession
from engine.train.synthetic import synthetic_rows
from engine.verify.runner import truth_applies

KEYS = ["epoch", "epochs", "train_loss", "val_loss", "val_rmse_sigma", "val_rmse_db", "val_pearson", "val_objective",
        "sun_fc2_bias", "storm_fc2_bias", "sun_pinned_low", "sun_pinned_high", "storm_pinned_low",
        "storm_pinned_high", "sun_effect_sigma", "sun_effect_db", "storm_effect_sigma", "storm_effect_db",
        "sun_truth_db", "storm_truth_db", "sun_gate_mean", "storm_gate_mean", "sun_gate_at_bound", "storm_gate_at_bound", "lr_trunk", "lr_sun_scaler", "lr_storm_scaler",
        "lr_sidecar", "samples_per_s", "epoch_s", "elapsed_s", "eta_s", "best_epoch", "best_val_loss",
        "warnings", "time", "device", "phase"]


pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]  # these train


def make_settings(tmp_path, **train) -> Settings:
    s = Settings()
    s.runs.dir = str(tmp_path / "runs")
    s.train.device = "cpu"
    s.train.batch_size = 256
    s.train.epochs = 2
    s.train.progress_interval = 60.0
    for k, v in train.items():
        setattr(s.train, k, v)
    return s


@pytest.fixture(scope="module")
def rows() -> SignatureRows:
    return synthetic_rows(3000, seed=1)


def test_metrics_lines_have_exact_keys_and_real_meaning(tmp_path, rows):
    s = make_settings(tmp_path, epochs=3)
    s.database.password = "hunter2"
    events: list = []
    sess = TrainingSession(s, rows=rows, on_event=events.append)
    end = sess.run()
    assert end.state == ev.FINISHED, end.message
    lines = read_metrics(sess.run_dir)
    assert [list(m) for m in lines] == [KEYS] * 3
    assert [e.metrics for e in events if isinstance(e, ev.EpochEnd)] == lines
    assert [m["epoch"] for m in lines] == [1, 2, 3] and all(m["epochs"] == 3 for m in lines)

    # Event order: loading, run started, training ... finished, RunEnded last.
    kinds = [type(e).__name__ for e in events]
    assert kinds[:3] == ["StateChanged", "RunStarted", "StateChanged"]
    assert events[0].state == ev.LOADING and events[2].state == ev.TRAINING
    assert isinstance(events[-1], ev.RunEnded) and events[-1] == end
    started = events[1]
    assert started.rows_train + started.rows_val == len(rows) and started.params == 205_621
    assert started.rows_val == int(rows.val_mask.sum())

    # Learning rates: the epoch's own, following the cosine schedule (T_max = epochs).
    tr = s.train
    for i, m in enumerate(lines):
        for key, lr in (("lr_trunk", tr.lr_trunk), ("lr_sun_scaler", tr.experimental.lr_sun_scaler),
                        ("lr_storm_scaler", tr.lr_storm_scaler), ("lr_sidecar", tr.lr_sidecar)):
            want = tr.eta_min + (lr - tr.eta_min) * (1 + math.cos(math.pi * i / 3)) / 2
            assert m[key] == pytest.approx(want, rel=1e-6)

    best = min(lines, key=lambda m: m["val_objective"])  # the training loss picks the best epoch
    assert lines[-1]["best_epoch"] == best["epoch"] and lines[-1]["best_val_loss"] == best["val_loss"]
    assert end.best["epoch"] == best["epoch"]

    # Recompute the best epoch's validation metrics with numpy from best.safetensors.
    lm = load_model(sess.run_dir / "best.safetensors")
    assert lm.feature_set is V22 and json.loads(lm.meta["epoch"]) == best["epoch"]
    a = rows.array[rows.val_mask].astype(np.float64)
    c = {k: a[:, i] for k, i in COL.items()}
    bands = [BY_ID[int(b)] for b in c["band"]]
    mean = np.array([b.snr_mean for b in bands])
    std = np.array([b.snr_std for b in bands])
    freq = np.array([b.freq_hz for b in bands], dtype=np.float64)
    x = build_features(V22, c["tx_lat"], c["tx_lon"], c["rx_lat"], c["rx_lon"], freq, c["hour"],
                       c["month"], c["avg_sfi"], c["avg_kp"])
    with torch.no_grad():
        parts = {k: v.numpy().astype(np.float64) for k, v in lm.model.parts(torch.from_numpy(x)).items()}
    # Issue 22: every val_* score but val_objective compares the plain output with median_snr,
    # whatever the training loss (so val RMSE means the same for every run).
    pred = parts["out"]
    y = (c["median_snr"] - mean) / std
    w = c["spot_count"] / c["spot_count"].mean()

    def huber(e):
        return np.sum(w * np.where(np.abs(e) <= 1.0, 0.5 * e ** 2, np.abs(e) - 0.5)) / np.sum(w)

    err = pred - y
    assert best["val_rmse_sigma"] == pytest.approx(np.sqrt(np.mean(err ** 2)), rel=1e-4)
    assert best["val_rmse_db"] == pytest.approx(np.sqrt(np.mean((err * std) ** 2)), rel=1e-4)
    assert best["val_pearson"] == pytest.approx(np.corrcoef(pred, y)[0, 1], abs=1e-4)
    assert best["val_loss"] == pytest.approx(huber(err), rel=1e-4)
    # val_objective: what the training loss compares with median_snr, the median of the spots
    # above the decode floor when the output is the mean of all spots (spread censor_spread_db).
    ex = tr.experimental
    assert ex.censor_spread_db > 0  # the default recipe: the objective differs from val_loss
    nd = NormalDist()
    mu_db = pred * std + mean
    sp = ex.censor_spread_db
    q = np.array([min((1 + nd.cdf((ex.censor_floor_db - m) / sp)) / 2, 1 - 1e-6) for m in mu_db])
    censored = (mu_db + sp * np.array([nd.inv_cdf(v) for v in q]) - mean) / std
    assert best["val_objective"] == pytest.approx(huber(censored - y), rel=1e-4)
    assert abs(best["val_objective"] - best["val_loss"]) > 1e-4
    assert best["sun_gate_mean"] == pytest.approx(parts["sun_gate"].mean(), rel=1e-4)
    assert best["storm_gate_mean"] == pytest.approx(parts["storm_gate"].mean(), rel=1e-4)
    for name in ("sun", "storm"):
        g = np.asarray(parts[f"{name}_gate"])
        assert best[f"{name}_gate_at_bound"] == pytest.approx(np.mean((g < 0.52) | (g > 1.98)), abs=1e-6)
    # Not the original's sqrt(Huber) "RMSE", and dB uses each row's band, not a flat 6.7.
    assert abs(best["val_rmse_sigma"] - math.sqrt(best["val_loss"])) > 1e-3
    assert abs(best["val_rmse_db"] - 6.7 * best["val_rmse_sigma"]) > 1e-4

    # Physics effects on the reference path, from the saved weights.
    r = predict_parts(lm, REF_PATH, sfi=np.array([70.0, 200.0]), kp=2.0)["sigma"]
    assert best["sun_effect_sigma"] == pytest.approx(r[1] - r[0], abs=1e-5)
    assert best["sun_effect_db"] == pytest.approx((r[1] - r[0]) * 6.7, abs=1e-4)
    r = predict_parts(lm, REF_PATH, sfi=150.0, kp=np.array([0.0, 9.0]))["sigma"]
    assert best["storm_effect_sigma"] == pytest.approx(r[0] - r[1], abs=1e-5)
    sc = lm.model.sun_sidecar
    wts = np.concatenate([sc.fc1.weight.detach().numpy().ravel(), sc.fc2.weight.detach().numpy().ravel()])
    assert best["sun_pinned_low"] == np.mean(np.abs(wts - tr.clamp_min) <= 1e-6)
    assert best["sun_fc2_bias"] == pytest.approx(float(sc.fc2.bias.detach()))
    assert best["warnings"] == []

    # Run folder: state.json summary, redacted settings, no temp files left by atomic writes.
    st = json.loads((sess.run_dir / "state.json").read_text())
    assert (st["state"], st["epochs_done"], st["epochs_total"], st["best_epoch"]) == ("finished", 3, 3, best["epoch"])
    assert st["best_val_pearson"] == best["val_pearson"] and st["best_val_rmse_db"] == best["val_rmse_db"]
    settings_text = (sess.run_dir / "settings.json").read_text()
    assert "hunter2" not in settings_text and json.loads(settings_text)["train"]["epochs"] == 3
    assert sorted(p.name for p in sess.run_dir.iterdir()) == [
        "best.safetensors", "heartbeat", "last.pt", "metrics.jsonl", "settings.json", "state.json", "trainer.lock"]
    ck = torch.load(sess.run_dir / "last.pt", weights_only=True)
    assert ck["epoch"] == 3 and ck["step"] == 0 and ck["best"]["epoch"] == best["epoch"]
    assert load_model(sess.run_dir / "last.pt").meta["run_id"] == sess.run_id


def test_split_follows_is_val_and_leaks_are_reported(tmp_path, rows):
    assert count_leaked_paths(rows) == 0
    notices: list = []
    end = TrainingSession(make_settings(tmp_path, epochs=1), rows=rows, on_event=notices.append).run()
    assert end.state == ev.FINISHED
    assert not [n for n in notices if isinstance(n, ev.Notice) and n.level == "warning"]

    # Move some training rows to validation: their paths now sit on both sides.
    leaky = rows.array.copy()
    train_idx = np.flatnonzero(leaky[:, COL["is_val"]] < 0.5)[:40]
    leaky[train_idx, COL["is_val"]] = 1.0
    leaky_rows = SignatureRows(leaky)
    n_leaked = count_leaked_paths(leaky_rows)
    a = leaky_rows.array
    both = ({tuple(r) for r in a[leaky_rows.val_mask, :4]} & {tuple(r) for r in a[~leaky_rows.val_mask, :4]})
    assert n_leaked == len(both) > 0
    notices.clear()
    TrainingSession(make_settings(tmp_path, epochs=1), rows=leaky_rows, on_event=notices.append).run()
    warn = [n.text for n in notices if isinstance(n, ev.Notice) and n.level == "warning"]
    assert any(f"{n_leaked} paths" in t and "both training and validation" in t for t in warn)


@pytest.mark.parametrize("edit, expect", [
    (lambda a: a.__setitem__((5, COL["median_snr"]), np.nan), "median_snr (1 rows)"),
    (lambda a: a.__setitem__((slice(0, 3), COL["band"]), 99.0), "3 rows have unknown band ids [99]"),
    (lambda a: a.__setitem__((7, COL["month"]), 13.0), "1 rows have month outside 1..12"),
    (lambda a: a.__setitem__((slice(None), COL["is_val"]), 0.0), "all 3000 rows are training rows"),
])
def test_bad_rows_fail_clearly_before_training(tmp_path, rows, edit, expect):
    a = rows.array.copy()
    edit(a)
    sess = TrainingSession(make_settings(tmp_path), rows=SignatureRows(a))
    end = sess.run()
    assert end.state == ev.FAILED and expect in end.message
    assert not (sess.run_dir / "last.pt").exists()
    assert json.loads((sess.run_dir / "state.json").read_text())["state"] == "failed"


def test_dead_sidecar_is_warned_once(tmp_path):
    # SNR that FALLS with solar flux, and a clamp floor above the init range (0.8..1.2):
    # the gradient holds every sidecar weight on the floor, the original's silent defect.
    rows = synthetic_rows(2000, seed=2, sun_db=-20.0)
    notices: list = []
    s = make_settings(tmp_path, epochs=2, clamp_min=1.5, lr_sidecar=0.05)
    TrainingSession(s, rows=rows, on_event=notices.append).run()
    m = read_metrics(next(iter(list_runs(s.runs.dir))).path)[-1]
    assert m["sun_pinned_low"] == 1.0 and m["sun_pinned_high"] == 0.0
    dead = [w for w in m["warnings"] if w.startswith("sun sidecar is dead")]
    assert len(dead) == 1 and "clamp floor 1.5" in dead[0]
    warned = [n.text for n in notices if isinstance(n, ev.Notice) and n.level == "warning"]
    assert warned.count(dead[0]) == 1  # once, not every epoch


def _wait_for(q: queue.Queue, pred, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            e = q.get(timeout=0.05)
        except queue.Empty:
            continue
        seen.append(e)
        if pred(e):
            return e, seen
    raise AssertionError(f"event not seen within {timeout}s; last events: {seen[-5:]}")


def test_pause_checkpoint_snapshot_resume_stop_from_another_thread(tmp_path, rows):
    s = make_settings(tmp_path, epochs=10_000, progress_interval=1e-6)
    q: queue.Queue = queue.Queue()
    sess = TrainingSession(s, rows=rows, on_event=q.put, data_source="embedded wspr.t",
                           data=DataIdentity("wspr.t", "demo", len(rows), params={"seed": 1}))
    assert sess.snapshot_model() is None
    result: list = []
    t = threading.Thread(target=lambda: result.append(sess.run()), daemon=True)
    t.start()

    _wait_for(q, lambda e: isinstance(e, ev.StepProgress))
    sess.pause()
    _wait_for(q, lambda e: isinstance(e, ev.StateChanged) and e.state == ev.PAUSED)
    assert sess.state == ev.PAUSED
    # The PAUSED event is emitted by the loop itself, after its last step; every step emits a
    # StepProgress (interval 1e-6), so a paused loop that stepped would leave one in the queue.
    before = {k: v.clone() for k, v in sess.snapshot_model().model.state_dict().items()}
    time.sleep(0.4)
    while not q.empty():
        assert not isinstance(q.get(), ev.StepProgress | ev.EpochEnd)
    after = sess.snapshot_model().model.state_dict()
    assert sess.state == ev.PAUSED and all(torch.equal(before[k], after[k]) for k in before)

    lm = sess.snapshot_model()
    assert lm is not None and lm.kind == "live"
    # the live model carries its data source, so truth tests grade it as they grade best.safetensors
    assert lm.meta["data_provenance"]["kind"] == "demo" and truth_applies(lm) == (True, "")
    p = predict_parts(lm, REF_PATH, 150.0, 2.0)
    assert np.isfinite(p["db"]).all()

    sess.request_checkpoint()
    saved, _ = _wait_for(q, lambda e: isinstance(e, ev.CheckpointSaved))
    assert saved.kind == "manual" and (sess.run_dir / "last.pt").is_file()
    assert load_model(saved.path).meta["run_id"] == sess.run_id
    assert sess.state == ev.PAUSED  # a checkpoint does not end the pause

    sess.resume()
    _wait_for(q, lambda e: isinstance(e, ev.StateChanged) and e.state == ev.TRAINING)
    _wait_for(q, lambda e: isinstance(e, ev.StepProgress))
    sess.stop()
    t.join(30)
    assert not t.is_alive()
    end = result[0]
    assert end.state == ev.STOPPED and "last.pt saved" in end.message
    ck = torch.load(sess.run_dir / "last.pt", weights_only=True)
    assert ck["step"] > 0 or ck["epoch"] > 0
    st = json.loads((sess.run_dir / "state.json").read_text())
    assert st["state"] == "stopped"
    info = next(r for r in list_runs(s.runs.dir) if r.run_id == sess.run_id)
    assert info.state == "stopped" and info.resumable
    with pytest.raises(RuntimeError):
        sess.run()  # a session runs once


def test_stop_while_paused_saves_and_ends(tmp_path, rows):
    s = make_settings(tmp_path, epochs=10_000, progress_interval=1e-6)
    q: queue.Queue = queue.Queue()
    sess = TrainingSession(s, rows=rows, on_event=q.put)
    t = threading.Thread(target=sess.run, daemon=True)
    sess.pause()  # requested before the loop starts: honoured at the first step boundary
    t.start()
    _wait_for(q, lambda e: isinstance(e, ev.StateChanged) and e.state == ev.PAUSED)
    sess.stop()
    end, _ = _wait_for(q, lambda e: isinstance(e, ev.RunEnded))
    t.join(30)
    assert end.state == ev.STOPPED and "after step 1 of" in end.message
    assert torch.load(sess.run_dir / "last.pt", weights_only=True)["step"] == 1


def test_stop_while_loading_ends_without_training(tmp_path, rows):
    sess = None

    def loader(progress, cancel):
        progress(0, len(rows))
        sess.stop()
        assert cancel()
        return None  # a loader that honours cancel returns nothing (or raises)

    events: list = []
    sess = TrainingSession(make_settings(tmp_path), rows_loader=loader, on_event=events.append)
    end = sess.run()
    assert end.state == ev.STOPPED and "while loading" in end.message
    assert ev.LoadProgress(0, len(rows)) in events
    assert not any(isinstance(e, ev.RunStarted) for e in events)


def test_leak_count_is_exact_for_paths_a_mixed_hash_confused():
    # These two different paths once shared a key under a 64-bit mixing hash, which made a
    # clean path-level split report a "leaked" path. The count must compare positions exactly.
    a = np.zeros((2, len(COLUMNS)), dtype=np.float32)
    a[0, :4] = (29.5, -79.0, 34.5, -119.0)
    a[1, :4] = (43.5, -79.0, 31.5, -119.0)
    a[1, COLUMNS.index("is_val")] = 1.0
    assert count_leaked_paths(SignatureRows(a)) == 0
    a[1, :4] = a[0, :4]
    assert count_leaked_paths(SignatureRows(a)) == 1
