"""The dashboard's data model and renderers, without a running app: events fold into the
state correctly, the header fits 80 columns, the sidecar panel flags a dead sidecar."""

from __future__ import annotations

import io
from datetime import datetime

from rich.console import Console

from engine.train import events as ev
from ionis_tui import fmt
from ionis_tui.dashboard_state import HEADER, INFO, LOG, PLOTS, SIDECAR, DashboardState, DataSource
from ionis_tui.widgets.data_panel import env_name, render_data
from ionis_tui.widgets.info_panel import render_info
from ionis_tui.widgets.run_header import render_header
from ionis_tui.widgets.sidecar_panel import dead_sidecars, render_sidecars

FIXED = datetime(2026, 1, 2, 3, 4, 5)


def plain(renderable, width: int = 80) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    with console.capture() as cap:
        console.print(renderable)
    return cap.get()


def metrics(epoch: int, epochs: int = 10, **over) -> dict:
    m = {"epoch": epoch, "epochs": epochs, "train_loss": 1.0 / epoch, "val_loss": 1.1 / epoch,
         "val_rmse_sigma": 0.9, "val_rmse_db": 6.0, "val_pearson": 0.1 * epoch,
         "sun_fc2_bias": -10.0, "storm_fc2_bias": -9.5, "sun_pinned_low": 0.25, "sun_pinned_high": 0.0,
         "storm_pinned_low": 0.0, "storm_pinned_high": 0.0, "sun_effect_sigma": 0.3, "sun_effect_db": 2.0,
         "storm_effect_sigma": 1.0, "storm_effect_db": 6.7, "sun_gate_mean": 1.0, "storm_gate_mean": 0.9,
         "lr_trunk": 3e-4, "lr_sun_scaler": 1e-3, "lr_storm_scaler": 5e-4, "lr_sidecar": 1e-3, "samples_per_s": 1000.0, "epoch_s": 20.0,
         "elapsed_s": 20.0 * epoch, "eta_s": 20.0 * (epochs - epoch), "best_epoch": epoch,
         "best_val_loss": 1.1 / epoch, "warnings": [], "time": "t"}
    m.update(over)
    return m


def started(s: DashboardState, epochs: int = 10) -> None:
    s.apply(ev.RunStarted("r1", "/runs/r1", "cpu", 800, 200, epochs, 1, 1234, "embedded wspr.t"))
    s.apply(ev.StateChanged(ev.TRAINING))


def test_events_fold_into_state_and_mark_dirty_parts():
    now = [100.0]
    s = DashboardState(clock=lambda: FIXED, monotonic=lambda: now[0])
    s.take_dirty()
    started(s)
    assert s.run_id == "r1" and s.state == ev.TRAINING and s.epochs == 10 and s.active
    assert s.take_dirty() >= {HEADER, INFO, LOG}
    s.apply(ev.StepProgress(1, 5, 10, 0.8, 2000.0, 3.0))
    assert s.take_dirty() == {HEADER}  # progress redraws only the header
    assert s.epoch_fraction == 0.5 and s.running_loss == 0.8
    s.apply(ev.EpochEnd(metrics(1)))
    assert s.take_dirty() >= {HEADER, PLOTS, SIDECAR, INFO, LOG}
    assert s.epochs_done == 1 and s.last["val_pearson"] == 0.1
    # ETA: 9 epochs left at the last epoch's 20 s; half way through epoch 2 -> 8.5 epochs.
    s.apply(ev.StepProgress(2, 5, 10, 0.7, 2000.0, 30.0))
    assert s.eta_s == 8.5 * 20.0
    s.apply(ev.CheckpointSaved("/runs/r1/last.pt", "last", 1))  # routine end-of-epoch save
    assert "checkpoint saved" not in s.log[-1].text and s.checkpoints["last"][1] == 1
    s.apply(ev.CheckpointSaved("/runs/r1/last.pt", "manual", 2))
    assert s.checkpoints["manual"] == ("/runs/r1/last.pt", 2)
    s.apply(ev.StateChanged(ev.STOPPED, "stopped"))
    s.apply(ev.RunEnded(ev.STOPPED, "stopped during epoch 2", {"epoch": 1, "val_loss": 1.1}))
    assert not s.active and s.best["epoch"] == 1
    texts = [line.text for line in s.log]
    assert any(t.startswith("epoch 1/10") for t in texts)
    assert "checkpoint saved: last.pt (manual, in epoch 2)" in texts
    assert texts[-1] == "run stopped: stopped during epoch 2"
    assert all(line.stamp == "03:04:05" for line in s.log)


def test_eta_during_first_epoch_comes_from_the_pace_so_far():
    now = [0.0]
    s = DashboardState(monotonic=lambda: now[0])
    started(s, epochs=4)
    s.apply(ev.StepProgress(1, 1, 100, 1.0, 10.0, 0.0))   # epoch 1 starts at t=0
    now[0] = 10.0
    s.apply(ev.StepProgress(1, 25, 100, 1.0, 10.0, 10.0))  # a quarter in 10 s -> 40 s an epoch
    assert abs(s.eta_s - (4 - 0.25) * 40.0) < 1e-9


def test_reset_run_keeps_the_log_and_data_but_forgets_the_run():
    s = DashboardState()
    s.set_data(DataSource(status="ok", mode="embedded", table="wspr.t", rows=5))
    started(s)
    s.apply(ev.EpochEnd(metrics(1)))
    n = s.log_seq
    s.reset_run()
    assert s.history == [] and s.run_id == "" and s.state == ev.IDLE
    assert s.data.rows == 5 and s.log_seq == n


def test_worker_failure_is_recorded_once():
    s = DashboardState()
    started(s)
    s.fail("RuntimeError: boom")
    s.fail("again")
    assert s.state == ev.FAILED and s.final_message == "RuntimeError: boom"
    assert sum("run failed" in line.text for line in s.log) == 1


def test_header_fits_one_line_at_80_columns_with_eta_visible():
    s = DashboardState(device="cpu")
    s.set_data(DataSource(status="ok", mode="embedded", table="wspr.signatures_v2_terrestrial", rows=24_700_000))
    started(s, epochs=100)
    s.apply(ev.EpochEnd(metrics(1, epochs=100, epoch_s=153.0)))
    s.apply(ev.StepProgress(2, 200, 400, 0.8123, 161_000.0, 4000.0))
    s.run_id = "20261128-213937-v22"
    line = render_header(s, 78).plain
    assert "\n" not in line and len(line) <= 78, line
    # state, the run, progress and ETA stay; device and speed go first
    assert line.startswith("● training │ 20261128-213937-v22 │ epoch 2/100 "), line
    assert "50%" in line and line.endswith("ETA 4:11:10") and "cpu" not in line   # (100 - 1.5) * 153 s
    narrow = render_header(s, 58).plain
    assert len(narrow) <= 58 and "epoch 2/100" in narrow and narrow.endswith("ETA 4:11:10"), narrow
    wide = render_header(s, 198).plain.splitlines()
    assert len(wide) == 2 and "24,700,000 rows" in wide[0] and "step 200/400" in wide[1]
    assert "161.0k samples/s" in wide[1] and "loss 0.8123" in wide[1]


def test_dead_sidecar_warning():
    assert dead_sidecars(metrics(1, sun_pinned_low=1.0)) == ["sun"]
    assert dead_sidecars(metrics(1)) == []
    assert dead_sidecars({}) == []
    text = plain(render_sidecars(metrics(1, sun_pinned_low=1.0)))
    assert "DEAD SIDECAR: sun" in text and "DEAD SIDECAR: storm" not in text
    assert "DEAD" not in plain(render_sidecars(metrics(1)))
    assert "25%/0%" in plain(render_sidecars(metrics(1)))   # sun pinned low / high


def test_info_panel_shows_lr_best_and_checkpoints():
    s = DashboardState()
    started(s)
    for e in (1, 2, 3):
        s.apply(ev.EpochEnd(metrics(e, best_epoch=2, val_pearson=0.3 if e == 2 else 0.1)))
    s.apply(ev.CheckpointSaved("/runs/r1/best.safetensors", "best", 2))
    text = plain(render_info(s), 100)
    assert "trunk 3.0e-04" in text and "sidecar 1.0e-03" in text
    assert "epoch 2" in text and "+0.3000" in text
    assert "best.safetensors (epoch 2)" in text


def test_data_panel_names_the_setting_to_fix():
    d = DataSource(status="error", mode="server", where="h:1", table="wspr.t",
                   message="cannot reach the server", setting="database.host")
    text = render_data(d, 200_000, 80).plain
    assert "database.host" in text and "IONIS_DATABASE__HOST" in text
    assert env_name("database.table") == "IONIS_DATABASE__TABLE"
    empty = DataSource(status="empty", mode="embedded", where="data/x", table="wspr.t")
    assert "press d to seed 200,000 demo" in render_data(empty, 200_000, 80).plain


def test_formatters():
    assert fmt.duration(3723) == "1:02:03" and fmt.duration(59) == "0:59" and fmt.duration(None) == "—"
    assert fmt.rate(950) == "950" and fmt.rate(12_345) == "12.3k" and fmt.rate(1_250_000) == "1.25M"
    assert len(fmt.bar(0.5, 10)) == 10 and fmt.bar(1.0, 4) == "━━━━" and fmt.bar(0.0, 3) == "───"


def test_each_checkpoint_file_shows_once_with_the_save_that_left_it():
    """last.pt is written by routine, manual and stop saves: the panel showed "manual last.pt
    (epoch 2)" next to "last last.pt (epoch 6)" for the same file (issue 13, item 5)."""
    s = DashboardState()
    started(s)
    s.apply(ev.EpochEnd(metrics(1)))
    s.apply(ev.CheckpointSaved("/runs/r1/last.pt", "last", 1))
    s.apply(ev.CheckpointSaved("/runs/r1/last.pt", "manual", 2))        # during epoch 2
    text = plain(render_info(s), 100)
    assert "manual last.pt (in epoch 2)" in text and text.count("last.pt") == 1, text
    s.apply(ev.EpochEnd(metrics(2)))
    s.apply(ev.CheckpointSaved("/runs/r1/last.pt", "last", 2))
    text = plain(render_info(s), 100)
    assert "last   last.pt (after epoch 2)" in text and "manual" not in text, text


def test_the_header_after_a_stop_counts_done_epochs_not_one_under_way():
    s = DashboardState(device="cpu")
    started(s, epochs=30)
    for e in (1, 2, 3):
        s.apply(ev.EpochEnd(metrics(e, epochs=30)))
    s.apply(ev.StepProgress(4, 100, 400, 0.8, 1000.0, 50.0))
    assert "epoch 4/30" in render_header(s, 80).plain
    s.apply(ev.StateChanged(ev.STOPPED, "stopped"))
    s.apply(ev.RunEnded(ev.STOPPED, "stopped during epoch 4 (after step 100 of 400)", {}))
    line = render_header(s, 80).plain
    assert "3/30 done" in line and "epoch 3/30" not in line and "epoch 4" not in line, line
