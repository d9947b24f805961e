"""Runs that outlive the app (Pilot + real trainer processes): a run started with s trains in
its own process, survives q -> detach and SIGHUP, a new app attaches to it (history, live
progress, pause, resume, stop), two apps watch it at once, a killed trainer shows as interrupted."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

import pytest
from conftest import wait_until
from pilot_tools import screen_text

from engine.settings import DatabaseSettings, RunsSettings, Settings, TrainSettings, load_settings
from engine.train import events as ev
from engine.train.runs import INTERRUPTED, read_metrics, run_info
from engine.train.synthetic import synthetic_rows
from ionis_tui.app import IonisApp
from ionis_tui.detached import DetachedController, trainer_command
from ionis_tui.screens.confirm import ConfirmScreen
from ionis_tui.screens.quit import QuitScreen

ROWS = synthetic_rows(1500, seed=3)


@pytest.fixture(autouse=True)
def one_thread_trainers(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the trainer processes inherit it


def settings(tmp_path: Path, epochs: int = 500) -> Settings:
    return Settings(train=TrainSettings(epochs=epochs, batch_size=256, device="cpu", progress_interval=0.05),
                    runs=RunsSettings(dir=str(tmp_path / "runs")))


def alive(pid: int) -> bool:
    from engine.process import pid_alive

    return pid_alive(pid)  # reaps the trainer if this process started it (no zombie)


async def exited(app: IonisApp, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while app.is_running:
        assert loop.time() < end, "the app did not exit"
        await asyncio.sleep(0.05)


async def advances(run_dir: Path, beyond: int, timeout: float = 60.0) -> int:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while (done := run_info(run_dir).epochs_done) <= beyond:
        assert loop.time() < end, f"the trainer did not get past epoch {beyond}"
        await asyncio.sleep(0.1)
    return done


async def start_detached(tmp_path: Path):
    """An app starts a run with s, sees epoch 1, and detaches with q d. Returns (pid, run_dir)."""
    app = IonisApp(settings(tmp_path), rows=ROWS)
    assert isinstance(app.runner, DetachedController)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.epochs_done >= 1, 90, what="epoch 1")
        pid, run_dir = app.runner.session.pid, app.runner.session.run_dir
        assert pid != os.getpid() and alive(pid)
        assert "trainer pid" in screen_text(app) or any("trainer pid" in ln.text for ln in app.state.log)
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("d")
        await exited(app)
    return pid, run_dir


async def test_run_outlives_the_app_and_a_new_app_attaches_and_controls_it(tmp_path):
    pid, run_dir = await start_detached(tmp_path)
    done = await advances(run_dir, run_info(run_dir).epochs_done)  # trains on with no app
    assert alive(pid) and run_info(run_dir).state == ev.TRAINING

    app = IonisApp(settings(tmp_path), check_db=False)  # attaches at start
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.runner.running and app.state.epochs_done > done, 60,
                         what="attached and following")
        assert app.state.run_id == run_dir.name and app.runner.session.pid == pid
        epochs = [m["epoch"] for m in app.state.history]
        assert epochs == list(range(1, len(epochs) + 1))  # history once, then live epochs
        await pilot.press("p")
        await wait_until(pilot, lambda: app.state.state == ev.PAUSED, 30, what="paused")
        assert run_info(run_dir).state == ev.PAUSED
        lm = app.runner.live_model()
        assert lm is not None and "last.pt, epoch" in lm.label and run_dir.name in lm.label
        await pilot.press("p")
        await wait_until(pilot, lambda: app.state.state == ev.TRAINING, 30, what="resumed")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.state.state == ev.STOPPED, 60, what="stopped")
        await wait_until(pilot, lambda: not app.runner.running, 30, what="the follower to end")
        assert app.runner.live_model() is None  # a stopped run is not live any more
        await pilot.press("q")  # nothing active any more: no question
        await exited(app)
    for _ in range(300):  # the trainer process ends once its stop checkpoint is written
        if not alive(pid):
            break
        await asyncio.sleep(0.1)
    assert not alive(pid) and run_info(run_dir).state == ev.STOPPED and run_info(run_dir).resumable
    assert [m["epoch"] for m in read_metrics(run_dir)] == epochs[:1] + list(
        range(2, run_info(run_dir).epochs_done + 1))


async def test_sighup_leaves_the_run_training_and_two_apps_watch_it(tmp_path):
    first = IonisApp(settings(tmp_path), rows=ROWS)
    async with first.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: first.state.epochs_done >= 1, 90, what="epoch 1")
        pid, run_dir = first.runner.session.pid, first.runner.session.run_dir
        os.kill(os.getpid(), signal.SIGHUP)  # the terminal went away
        await exited(first)
    done = await advances(run_dir, run_info(run_dir).epochs_done)
    assert alive(pid)

    a = IonisApp(settings(tmp_path), check_db=False, attach=str(run_dir))
    b = IonisApp(settings(tmp_path), check_db=False)
    async with a.run_test(size=(80, 24)) as pa, b.run_test(size=(80, 24)) as pb:
        await wait_until(pa, lambda: a.state.epochs_done > done, 60, what="viewer a")
        await wait_until(pb, lambda: b.state.epochs_done > done, 60, what="viewer b")
        await pa.press("p")  # one viewer pauses; both see it
        await wait_until(pb, lambda: b.state.state == ev.PAUSED, 30, what="b sees the pause")
        await wait_until(pa, lambda: a.state.state == ev.PAUSED, 30, what="a sees the pause")
        await pb.press("c")  # checkpoint from the other viewer
        await wait_until(pa, lambda: "manual" in a.state.checkpoints, 30, what="manual checkpoint")
        os.kill(pid, signal.SIGKILL)  # out of memory, kill -9
        await wait_until(pa, lambda: a.state.state == INTERRUPTED, 30, what="a: interrupted")
        await wait_until(pb, lambda: b.state.state == INTERRUPTED, 30, what="b: interrupted")
        assert f"trainer (pid {pid}) is gone" in a.state.final_message and "last.pt kept" in a.state.final_message
    assert run_info(run_dir).state == INTERRUPTED and run_info(run_dir).resumable


def test_trainer_gets_exactly_the_apps_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("IONIS_TRAIN__EPOCHS", "7")  # already in the app's settings; not passed twice
    given = Settings(database=DatabaseSettings(mode="server", host="db.example", password='p"w\\d\u00e9 #x'),
                     train=TrainSettings(epochs=7, weight_decay=1e-5, eta_min=1e-6, device="cpu", limit_rows=123,
                                         experimental={"storm_weight": 3.0, "sun_gate_within_cell": False}),
                     runs=RunsSettings(dir=str(tmp_path / "r uns")))
    argv, env, path = trainer_command(given, ["--run-dir", "x"], folder=str(tmp_path))
    assert argv[-4:] == ["train", "--headless", "--run-dir", "x"] and argv[argv.index("--config") + 1] == path
    assert not any(k.startswith("IONIS_") for k in env) and given.database.password not in " ".join(argv)
    assert os.stat(path).st_mode & 0o077 == 0  # only the owner can read the password
    monkeypatch.delenv("IONIS_TRAIN__EPOCHS")
    assert load_settings(path).model_dump() == given.model_dump()  # the file read is not a setting


async def test_runs_screen_attaches_to_a_run_started_headless(tmp_path):
    """`ionis-tui train --headless &` from a shell; an app already open finds it in the runs
    list (r), attaches (a) and pauses and stops it."""
    import subprocess

    import numpy as np

    from ionis_tui.screens.runs import RunsScreen

    app = IonisApp(settings(tmp_path), check_db=False)  # no live run yet
    async with app.run_test(size=(80, 24)) as pilot:
        assert not app.runner.running
        np.save(tmp_path / "rows.npy", ROWS.array)
        argv, env, _ = trainer_command(settings(tmp_path), ["--rows-file", str(tmp_path / "rows.npy")],
                                       folder=str(tmp_path))
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            await wait_until(pilot, lambda: any(r.epochs_done >= 1 for r in _runs(tmp_path)), 90,
                             what="headless epoch 1")
            await pilot.press("r")
            assert isinstance(app.screen, RunsScreen)
            assert "training" in screen_text(app) and "1 live: a attaches" in screen_text(app)
            await pilot.press("a")
            await wait_until(pilot, lambda: app.runner.running and app.state.history, 30, what="attached")
            assert app.runner.session.pid == proc.pid and not isinstance(app.screen, RunsScreen)
            await pilot.press("p")
            await wait_until(pilot, lambda: app.state.state == ev.PAUSED, 30, what="paused")
            await pilot.press("x", "y")
            await wait_until(pilot, lambda: app.state.state == ev.STOPPED, 60, what="stopped")
            assert proc.wait(60) == 130  # the headless trainer's "stopped" status
        finally:
            if proc.poll() is None:
                proc.kill()


def _runs(tmp_path: Path):
    from engine.train.runs import list_runs

    return list_runs(tmp_path / "runs")


async def headless_trainer(tmp_path: Path, epochs_done: int = 1, epochs: int | None = None):
    """`ionis-tui train --headless` started from a shell (not by an app), at epoch
    `epochs_done`; `epochs`: the run's total (default: the settings'). Returns (process, run folder)."""
    import subprocess

    import numpy as np

    np.save(tmp_path / "rows.npy", ROWS.array)
    run_dir = tmp_path / "runs" / "shell-run"
    more = ["--epochs", str(epochs)] if epochs else []
    argv, env, _ = trainer_command(settings(tmp_path), ["--rows-file", str(tmp_path / "rows.npy"),
                                                        "--run-dir", str(run_dir), *more], folder=str(tmp_path))
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    await advances_when_ready(run_dir, epochs_done - 1)
    return proc, run_dir


async def advances_when_ready(run_dir: Path, beyond: int, timeout: float = 90.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while (info := run_info(run_dir)) is None or info.epochs_done <= beyond:
        assert loop.time() < end, f"the trainer did not get past epoch {beyond}"
        await asyncio.sleep(0.05)


async def test_sigterm_to_an_app_that_only_views_a_run_detaches_and_the_run_trains_on(tmp_path):
    """Issue 21 item 4: SIGTERM to an app attached to someone else's run ends the app (143),
    not the run (it used to stop it, as if the app owned it)."""
    from engine.cli.runs_cmd import control

    proc, run_dir = await headless_trainer(tmp_path)
    try:
        app = IonisApp(settings(tmp_path), check_db=False, attach=str(run_dir))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: app.runner.running and app.state.history, 30, what="attached")
            os.kill(os.getpid(), signal.SIGTERM)
            await exited(app, 60)
        assert app.return_value == 143
        assert proc.poll() is None and run_info(run_dir).state == ev.TRAINING
        assert any("detaching" in ln.text for ln in app.state.log)
        done = run_info(run_dir).epochs_done
        await advances(run_dir, done)  # still training with no app
        assert control(run_info(run_dir), "stop", 60)[0]
        assert proc.wait(60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_events_replayed_on_attach_keep_their_own_times(tmp_path):
    """Issue 21 item 6: an app attaching later shows the run's start, notices and
    checkpoints at the times they happened, not all at the attach time."""
    import json
    from datetime import datetime

    from engine.train.control import EVENTS

    proc, run_dir = await headless_trainer(tmp_path)
    try:
        attached_at = datetime(2001, 2, 3, 4, 5, 6)  # the app's clock: any line with it is "now"
        app = IonisApp(settings(tmp_path), check_db=False, attach=str(run_dir), clock=lambda: attached_at)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: any(ln.text.startswith("run shell-run") for ln in app.state.log),
                             30, what="the replayed start")
            line = next(ln for ln in app.state.log if ln.text.startswith("run shell-run"))
            feed = [json.loads(x) for x in (run_dir / EVENTS).read_text().splitlines()]
            started = next(e for e in feed if e["type"] == "RunStarted")
            assert line.stamp == datetime.fromtimestamp(started["t"]).strftime("%H:%M:%S") != "04:05:06"
            app.runner.detach()
            await wait_until(pilot, lambda: not app.runner.running, 30, what="detached")
    finally:
        proc.kill()


async def test_the_runs_list_follows_a_training_run_by_itself(tmp_path):
    """Issue 21 item 6: the runs list showed the epochs of when it was opened (6/30 while the
    run was at epoch 8); it now refreshes while a run in it is live."""
    from ionis_tui.screens.runs import RunsScreen

    # A total no machine reaches while the test watches: on a quiet machine the settings' 500
    # epochs of these tiny rows ended before the list could show it move.
    proc, run_dir = await headless_trainer(tmp_path, epochs=100_000)
    try:
        app = IonisApp(settings(tmp_path), check_db=False)  # attaches to it at start
        async with app.run_test(size=(100, 24)) as pilot:
            await wait_until(pilot, lambda: app.runner.running, 30, what="attached")
            app.runner.detach()  # only the list follows it from now on
            await wait_until(pilot, lambda: not app.runner.running, 30, what="detached")
            await pilot.press("r")
            assert isinstance(app.screen, RunsScreen)
            shown = app.screen.runs[0].epochs_done
            def listed() -> int:  # the epochs the list shows now (it may skip several at once)
                m = re.search(r"(\d+)/100000", screen_text(app))
                return int(m.group(1)) if m else -1

            await wait_until(pilot, lambda: listed() >= shown + 2, 90, what="the list to move on by itself")
    finally:
        proc.kill()


async def test_an_attached_app_shows_a_frozen_trainer_as_stalled_and_then_training_again(tmp_path):
    """Issue 21 item 4: a trainer that stops moving (SIGSTOP) showed as "training" with a
    frozen elapsed time and ETA; it shows as stalled, by the one run-state rule, and
    returns to training when it moves again."""
    import subprocess

    import numpy as np

    from engine.train.runs import STALLED

    np.save(tmp_path / "rows.npy", ROWS.array)
    run_dir = tmp_path / "runs" / "shell-run"
    s = settings(tmp_path)
    s.runs.stall_after_s = 1.5
    argv, env, _ = trainer_command(s, ["--rows-file", str(tmp_path / "rows.npy"), "--run-dir", str(run_dir)],
                                   folder=str(tmp_path))
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        await advances_when_ready(run_dir, 0)
        app = IonisApp(settings(tmp_path), check_db=False, attach=str(run_dir))
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: app.runner.running and app.state.state == ev.TRAINING, 30,
                             what="attached")
            proc.send_signal(signal.SIGSTOP)
            await wait_until(pilot, lambda: app.state.state == STALLED, 30, what="stalled")
            await pilot.pause(0.2)
            assert "stalled" in screen_text(app)
            assert any("no progress for over 1.5 s" in ln.text for ln in app.state.log)
            proc.send_signal(signal.SIGCONT)
            await wait_until(pilot, lambda: app.state.state == ev.TRAINING, 30, what="training again")
            app.runner.detach()
            await wait_until(pilot, lambda: not app.runner.running, 30, what="detached")
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait()
