"""The app driving real training runs through Textual's Pilot: start, pause, resume,
checkpoint, stop, quit with a run active, the runs screen and resuming a run, a failing run.

Rows are small synthetic signatures handed to the app (IonisApp(rows=...)), which gives them to
its trainer process as a --rows-file: the same detached path users get, without a database
(the database path is covered in test_app_data.py). Waits are on state, never on sleeps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import recorded_notifications, wait_until
from pilot_tools import screen_text

from engine.data.rows import COL, SignatureRows
from engine.locations import short_path
from engine.settings import RunsSettings, Settings, TrainSettings
from engine.train import events as ev
from engine.train.runs import list_runs, read_metrics
from engine.train.synthetic import synthetic_rows
from ionis_tui.app import IonisApp
from ionis_tui.screens.confirm import ConfirmScreen
from ionis_tui.screens.dashboard import DashboardScreen
from ionis_tui.screens.help import HelpScreen
from ionis_tui.screens.quit import QuitScreen
from ionis_tui.screens.run_detail import RunDetailScreen
from ionis_tui.screens.runs import RunsScreen
from ionis_tui.widgets.plots import MetricPlot

ROWS = synthetic_rows(2000, seed=3)


def settings(tmp_path: Path, epochs: int) -> Settings:
    return Settings(train=TrainSettings(epochs=epochs, batch_size=256, device="cpu", progress_interval=0.05),
                    runs=RunsSettings(dir=str(tmp_path / "runs")))


async def exited(app: IonisApp, timeout: float = 60.0) -> None:
    await wait_until(None, lambda: not app.is_running, timeout, 0.05, what="the app to exit")


async def start_and_pause(pilot, app: IonisApp, after_epochs: int = 1) -> None:
    """Start a run, let it finish some epochs, pause it (a stable point to act on)."""
    await pilot.press("s")
    await wait_until(pilot, lambda: app.state.epochs_done >= after_epochs, 60, what="epochs")
    await pilot.press("p")
    await wait_until(pilot, lambda: app.state.state == ev.PAUSED, 30, what="paused")


@pytest.mark.slow  # trains
async def test_start_runs_to_the_end_and_shows_curves(tmp_path):
    app = IonisApp(settings(tmp_path, epochs=3), rows=ROWS)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.state == ev.FINISHED, 60, what="finished")
        await pilot.pause(0.3)  # next frame
        assert [m["epoch"] for m in app.state.history] == [1, 2, 3]
        run_dir = Path(app.state.run_dir)
        assert [m["epoch"] for m in read_metrics(run_dir)] == [1, 2, 3]
        assert (run_dir / "best.safetensors").is_file() and (run_dir / "last.pt").is_file()
        text = screen_text(app)
        assert "● finished" in text and "3/3 done" in text and "100%" in text
        assert all(p.border_subtitle == "" for p in app.screen.query(MetricPlot))  # curves drawn
        assert app.state.checkpoints["best"][0].endswith("best.safetensors")
        assert app.runner.live_model() is None  # a finished run's weights are no longer live
        log = [line.text for line in app.state.log]
        rows_line = f"{app.state.rows_train:,} train + {app.state.rows_val:,} val rows"
        assert app.state.rows_train > 0 and any(t.startswith("run ") and rows_line in t for t in log)
        assert log[-1].startswith("run finished")
        await pilot.press("q")  # nothing active: no question asked
        await exited(app)


@pytest.mark.slow  # trains
async def test_pause_checkpoint_resume_and_stop(tmp_path):
    app = IonisApp(settings(tmp_path, epochs=500), rows=ROWS)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_and_pause(pilot, app)
        done = app.state.epochs_done
        await pilot.pause(0.4)
        assert app.state.epochs_done == done and app.runner.session.state == ev.PAUSED
        assert "● paused" in screen_text(app)

        await pilot.press("c")
        await wait_until(pilot, lambda: "manual" in app.state.checkpoints, 30, what="manual checkpoint")
        manual = Path(app.state.checkpoints["manual"][0])
        assert manual.is_file() and manual.name == "last.pt"

        await pilot.press("p")
        await wait_until(pilot, lambda: app.state.state == ev.TRAINING, 30, what="resumed")
        await wait_until(pilot, lambda: app.state.epochs_done > done, 60, what="training again")

        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.state.state == ev.STOPPED, 60, what="stopped")
        await wait_until(pilot, lambda: not app.runner.running, 30, what="thread ended")
        (run,) = list_runs(tmp_path / "runs")
        assert run.state == ev.STOPPED and run.resumable and run.epochs_done >= done + 1
        assert app.state.final_message.startswith("stopped")
        assert "● stopped" in screen_text(app)


@pytest.mark.slow  # trains
async def test_stop_can_be_declined(tmp_path):
    app = IonisApp(settings(tmp_path, epochs=500), rows=ROWS)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_and_pause(pilot, app)
        await pilot.press("x", "n")
        assert isinstance(app.screen, DashboardScreen) and app.state.state == ev.PAUSED
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("c")  # quitting cancelled too: still here, still paused
        assert app.is_running and isinstance(app.screen, DashboardScreen)
        assert app.runner.session.state == ev.PAUSED
        await pilot.press("x", "y")
        await wait_until(pilot, lambda: app.state.state == ev.STOPPED, 60, what="stopped")


@pytest.mark.slow  # trains
async def test_quit_with_an_active_run_saves_a_checkpoint_first(tmp_path):
    app = IonisApp(settings(tmp_path, epochs=500), rows=ROWS)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.state == ev.TRAINING and app.state.step > 0, 60,
                         what="training")
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("s")  # stop (d would detach and leave it training)
        await exited(app)
    (run,) = list_runs(tmp_path / "runs")
    assert run.state == ev.STOPPED and run.resumable
    assert (run.path / "last.pt").stat().st_size > 0


@pytest.mark.slow  # trains
async def test_runs_screen_shows_runs_and_resumes_one(tmp_path):
    # First session: a long run, stopped after a few epochs; the user quits.
    app = IonisApp(settings(tmp_path, epochs=500), rows=ROWS)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_and_pause(pilot, app, after_epochs=2)
        await pilot.press("x", "y")
        await wait_until(pilot, lambda: not app.runner.running, 60, what="stopped")
        stopped_at = app.state.epochs_done
        run_dir = Path(app.state.run_dir)
        await pilot.press("q")
        await exited(app)
    assert stopped_at >= 2

    # Later, a new session (whose own epochs setting differs): r, look at the run, s resumes
    # it with the run's own recipe, so it goes on towards the run's own 500 epochs.
    app = IonisApp(settings(tmp_path, epochs=3), rows=ROWS)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        assert isinstance(app.screen, RunsScreen)
        text = screen_text(app)
        assert run_dir.name in text and "stopped" in text and f"{stopped_at}/500" in text

        await pilot.press("enter")
        assert isinstance(app.screen, RunDetailScreen)
        assert len(app.screen.history) == stopped_at
        assert all(p.border_subtitle == "" for p in app.screen.query(MetricPlot))
        await pilot.press("escape")

        await pilot.press("s")  # resume the highlighted run
        assert isinstance(app.screen, DashboardScreen)
        await wait_until(pilot, lambda: app.state.epochs_done >= stopped_at + 2, 120, what="2 more epochs")
        assert app.state.start_epoch == stopped_at + 1 and app.state.run_id == run_dir.name
        assert app.state.epochs == 500
        # The curves and the best epoch include the epochs from before the stop.
        assert [m["epoch"] for m in app.state.history][:stopped_at + 2] == list(range(1, stopped_at + 3))
        await pilot.press("x", "y")
        await wait_until(pilot, lambda: not app.runner.running, 60, what="stopped again")
        final = app.state.epochs_done
    epochs = [m["epoch"] for m in read_metrics(run_dir)]
    assert epochs == list(range(1, final + 1))  # every epoch exactly once across stop + resume
    assert list_runs(tmp_path / "runs")[0].state == ev.STOPPED


@pytest.mark.slow  # trains
async def test_finished_run_cannot_be_resumed_and_says_why(tmp_path):
    app = IonisApp(settings(tmp_path, epochs=1), rows=ROWS)
    async with app.run_test(size=(80, 24)) as pilot:
        notes = recorded_notifications(app)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.state == ev.FINISHED, 60, what="finished")
        await wait_until(pilot, lambda: not app.runner.running, 30, what="thread ended")
        await pilot.press("r", "s")
        assert isinstance(app.screen, RunsScreen)  # stayed: nothing to resume
        assert any("cannot be resumed: it has finished" in n for n in notes)


@pytest.mark.slow  # trains
async def test_failing_run_is_shown_and_the_app_lives_on(tmp_path):
    bad = ROWS.array.copy()
    bad[:5, COL["median_snr"]] = np.nan
    app = IonisApp(settings(tmp_path, epochs=3), rows=SignatureRows(bad))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.state == ev.FAILED, 60, what="failed")
        await pilot.pause(0.3)
        assert "median_snr (5 rows)" in app.state.final_message
        assert app.state.log[-1].level == "error"
        assert "● failed" in screen_text(app) and "median_snr" in screen_text(app)
        await pilot.press("question_mark")  # still answering keys
        assert isinstance(app.screen, HelpScreen)


async def test_broken_run_folder_fails_to_resume_with_a_message(tmp_path):
    broken = tmp_path / "runs" / "20250101-000000-v22"
    broken.mkdir(parents=True)
    (broken / "last.pt").write_bytes(b"not a checkpoint")
    (broken / "settings.json").write_text(json.dumps(settings(tmp_path, epochs=3).model_dump()))
    (broken / "state.json").write_text(json.dumps({"state": "stopped", "epochs_done": 1, "epochs_total": 3}))
    app = IonisApp(settings(tmp_path, epochs=3), rows=ROWS)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r", "s")
        assert isinstance(app.screen, DashboardScreen)
        await wait_until(pilot, lambda: app.state.state == ev.FAILED, 60, what="the trainer's refusal")
        assert "cannot read" in app.state.final_message
        await wait_until(pilot, lambda: not app.runner.running, 30, what="the follower to end")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)


@pytest.mark.parametrize("key,screen", [("v", "VerifyScreen"), ("m", "MatrixScreen"),
                                        ("question_mark", "HelpScreen"), ("r", "RunsScreen")])
async def test_keys_open_their_screens_and_escape_returns(tmp_path, key, screen):
    app = IonisApp(settings(tmp_path, epochs=1), rows=ROWS)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(key)
        assert type(app.screen).__name__ == screen
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_help_shows_the_paths_in_use(tmp_path):
    app = IonisApp(settings(tmp_path, epochs=1), rows=ROWS)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = str(app.screen.query_one("#help-paths").content)
        assert f"runs: {short_path(tmp_path / 'runs')}" in shown and "database: " in shown


async def test_help_paths_do_not_depend_on_where_it_runs(tmp_path, monkeypatch):
    """Issue 22: help named the folders by absolute path, so its layout (wrapping, scrollbar)
    changed with the length of the folder a test or a user ran in. Inside the working folder
    they are relative; the runs folder is named the same way in the notes."""
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    monkeypatch.chdir(deep)
    s = settings(deep, epochs=1)
    s.database.path = str(deep / "ionis.chdb")
    app = IonisApp(s, rows=ROWS, check_db=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        shown = str(app.screen.query_one("#help-paths").content)
        assert "runs: runs" in shown.splitlines() and "database: ionis.chdb" in shown.splitlines()
        assert "kept in runs/ " in str(app.screen.query_one("#help-notes").content)
        assert str(tmp_path) not in screen_text(app)


def test_short_path_is_relative_home_or_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert short_path(tmp_path / "runs") == "runs" and short_path(tmp_path) == "."
    assert short_path("runs/../x") == "x"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    assert short_path(tmp_path / "home" / "r") == "~/r" and short_path(tmp_path / "home") == "~"
    assert short_path(tmp_path / "other") == str((tmp_path / "other").resolve())
    monkeypatch.chdir("/")  # started in /: absolute, not "tmp/..."
    assert short_path(tmp_path / "other") == str((tmp_path / "other").resolve())



def test_a_file_outside_the_working_folder_shows_its_folder_and_name_first(tmp_path, monkeypatch):
    """The verify screen's model line is cut at 80 columns: a checkpoint under site-packages
    (V22 from ionis-validate) or the runs folder must still be told apart by what shows."""
    from engine.locations import name_first

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    assert name_first(tmp_path / "cwd" / "ionis_v22_gamma.safetensors") == "ionis_v22_gamma.safetensors"
    run = tmp_path / "home" / ".local" / "runs" / "20261203-101010-v22" / "best.safetensors"
    assert name_first(run) == "20261203-101010-v22/best.safetensors in ~/.local/runs"
    lib = tmp_path / "lib" / "ionis_validate" / "data" / "ionis_v22_gamma.safetensors"
    assert name_first(lib) == f"data/ionis_v22_gamma.safetensors in {(tmp_path / 'lib' / 'ionis_validate').resolve()}"

async def test_resuming_a_run_whose_data_changed_asks_first_and_yes_continues_as_a_new_phase(tmp_path):
    """Issue 21 item 3, in the app: the engine's resume check is asked before the trainer
    starts; no keeps the run as it was, yes resumes it with --force as phase 2."""
    from engine.train.data_identity import of_rows_file
    from engine.train.session import TrainingSession

    def stop_after_first_epoch(e):
        if isinstance(e, ev.EpochEnd):
            first.stop()

    first = TrainingSession(settings(tmp_path, epochs=500), rows=ROWS, on_event=stop_after_first_epoch,
                            data=of_rows_file("rows.npy", ROWS.array))
    assert first.run().state == ev.STOPPED
    other = synthetic_rows(1600, seed=8)
    app = IonisApp(settings(tmp_path, epochs=500), rows=other)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r", "s")
        assert isinstance(app.screen, ConfirmScreen)
        assert "rows: 2,000 then, 1,600 now" in app.screen.question and "new phase" in app.screen.question
        await pilot.press("n")
        await pilot.pause(0.1)
        assert isinstance(app.screen, RunsScreen) and not app.runner.running
        assert any("not resumed: its data changed" in ln.text for ln in app.state.log)
        await pilot.press("s", "y")
        assert isinstance(app.screen, DashboardScreen)
        await wait_until(pilot, lambda: app.state.epochs_done >= 2, 120, what="epoch 2 on the new data")
        await pilot.press("x", "y")
        await wait_until(pilot, lambda: not app.runner.running, 60, what="stopped")
    phases = [(m["epoch"], m["phase"]) for m in read_metrics(first.run_dir)]
    assert phases[:2] == [(1, 1), (2, 2)]
    assert list_runs(tmp_path / "runs")[0].phase == 2
