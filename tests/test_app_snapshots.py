"""Snapshots of the dashboard (pytest-textual-snapshot). Deterministic by construction: the
app is fed a fixed sequence of training events (the same dataclasses a real session emits)
with a pinned clock, a relative run folder and no database check. Update after a deliberate
UI change with `pytest tests/test_app_snapshots.py --snapshot-update` and review the SVGs."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest

from engine.data.rows import COLUMNS, SignatureRows
from engine.settings import RunsSettings, Settings, TrainSettings
from engine.train import events as ev
from ionis_tui.app import IonisApp
from ionis_tui.dashboard_state import DataSource

RUN = "runs/20260101-120000-v22"
EPOCHS = 12


def fixture_metrics(epoch: int, dead_sun: bool) -> dict:
    """Smooth made-up curves (display fixture only, not a result of anything)."""
    k = math.exp(-epoch / 4)
    return {
        "epoch": epoch, "epochs": EPOCHS, "train_loss": 0.55 + 0.5 * k, "val_loss": 0.60 + 0.45 * k,
        "val_rmse_sigma": 0.85 + 0.3 * k, "val_rmse_db": 5.7 + 2.0 * k, "val_pearson": 0.48 - 0.3 * k,
        "sun_fc2_bias": -10.0 - 0.05 * epoch, "storm_fc2_bias": -10.0 + 0.04 * epoch,
        "sun_pinned_low": 1.0 if dead_sun else 0.125, "sun_pinned_high": 0.0,
        "storm_pinned_low": 0.0, "storm_pinned_high": 0.25,
        "sun_effect_sigma": 0.482, "sun_effect_db": 3.23, "storm_effect_sigma": 2.8, "storm_effect_db": 18.76,
        "sun_gate_mean": 1.02, "storm_gate_mean": 0.97, "sun_gate_at_bound": 0.31, "storm_gate_at_bound": 0.0, "lr_trunk": 3e-4 * (1 - epoch / 13),
        "lr_sun_scaler": 1e-3 * (1 - epoch / 13), "lr_storm_scaler": 5e-4 * (1 - epoch / 13), "lr_sidecar": 1e-3 * (1 - epoch / 13),
        "samples_per_s": 161_000.0, "epoch_s": 153.0, "elapsed_s": 153.0 * epoch,
        "eta_s": 153.0 * (EPOCHS - epoch), "best_epoch": epoch, "best_val_loss": 0.60 + 0.45 * k,
        "warnings": [], "time": "2026-01-01T12:00:00+00:00",
    }


def make_app(tmp_path) -> IonisApp:
    s = Settings(train=TrainSettings(epochs=EPOCHS, device="cpu"), runs=RunsSettings(dir=str(tmp_path)))
    rows = SignatureRows(np.zeros((10, len(COLUMNS)), dtype=np.float32))  # never trained on
    app = IonisApp(s, rows=rows, clock=lambda: datetime(2026, 1, 1, 12, 0, 0))
    app.state.set_data(DataSource(status="ok", mode="embedded", table="wspr.signatures_v2_terrestrial",
                                  rows=24_700_000))
    return app


def replay(app: IonisApp, epochs: int, dead_sun: bool = False, end: str | None = None) -> None:
    """Feed the app the events of a run that got through `epochs` epochs."""
    events: list[ev.Event] = [ev.StateChanged(ev.LOADING),
                              ev.RunStarted("20260101-120000-v22", RUN, "cpu", 19_760_000, 4_940_000,
                                            EPOCHS, 1, 205_621, "embedded wspr.signatures_v2_terrestrial"),
                              ev.StateChanged(ev.TRAINING)]
    for e in range(1, epochs + 1):
        events.append(ev.EpochEnd(fixture_metrics(e, dead_sun)))
        events.append(ev.CheckpointSaved(f"{RUN}/best.safetensors", "best", e))
        events.append(ev.CheckpointSaved(f"{RUN}/last.pt", "last", e))
    if end is None:
        events.append(ev.StepProgress(epochs + 1, 150, 302, 0.6021, 158_000.0, 153.0 * epochs + 76))
    else:
        events += [ev.StateChanged(end), ev.RunEnded(end, f"{end} after epoch {epochs}")]
    for e in events:
        app.state.apply(e)
    app.state.monotonic = lambda: 0.0  # ETA from the trainer's per-epoch time, not a wall clock


async def settle(pilot) -> None:
    pilot.app.redraw()
    await pilot.pause(0.3)
    await pilot.pause(0.3)  # the event log scrolls to its end after its lines are laid out


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("case", ["training", "dead_sidecar_stopped"])
def test_dashboard(snap_compare, tmp_path, case, size):
    """A run in progress, and a stopped run whose sun sidecar died, at both sizes."""
    app = make_app(tmp_path)
    epochs, extra = (7, {}) if case == "training" else (9, {"dead_sun": True, "end": ev.STOPPED})

    async def run_before(pilot):
        replay(app, epochs, **extra)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_database_error_panel_80x24(snap_compare, tmp_path):
    app = make_app(tmp_path)

    async def run_before(pilot):
        app.state.set_data(DataSource(
            status="error", mode="server", where="10.60.1.1:8123", table="wspr.signatures_v2_terrestrial",
            message="cannot reach the ClickHouse server at 10.60.1.1:8123 (Connection refused); check "
                    "database.host / database.port", setting="database.host"))
        await settle(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_help_on_the_dashboard_80x24(snap_compare, tmp_path, monkeypatch):
    # Help names the folders in use relative to the working folder: the same on every machine
    # and under any --basetemp (issue 22: an absolute path changed the wrapping and scrollbar).
    monkeypatch.chdir(tmp_path)
    app = make_app(tmp_path / "runs")
    app.settings.database.path = str(tmp_path / "ionis.chdb")

    async def run_before(pilot):
        replay(app, 7)
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
