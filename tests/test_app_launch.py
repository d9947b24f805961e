"""Launching the app: settings problems end with one clear line (exit 2, no traceback), and a
SIGHUP (dropped SSH connection) ends the app and leaves the run training in its own process."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from conftest import wait_until

from engine.settings import RunsSettings, Settings, TrainSettings
from engine.train import events as ev
from engine.train.runs import list_runs
from engine.train.synthetic import synthetic_rows
from ionis_tui.__main__ import main
from ionis_tui.app import IonisApp
from ionis_tui.launch import launch


def test_bad_settings_file_is_one_clear_error(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[train]\nepochs = 0\n")
    assert launch(["--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "train.epochs" in err and "Traceback" not in err


def test_missing_settings_file_is_one_clear_error(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert "settings file not found" in err and "Traceback" not in err


@pytest.mark.slow  # trains
async def test_sighup_detaches_and_the_run_trains_on(tmp_path):
    """A dropped SSH connection ends the app, not the run: it trains in its own process."""
    s = Settings(train=TrainSettings(epochs=500, batch_size=256, device="cpu", progress_interval=0.05),
                 runs=RunsSettings(dir=str(tmp_path / "runs")))
    app = IonisApp(s, rows=synthetic_rows(3000, seed=5))
    async with app.run_test(size=(80, 24)) as pilot:
        if not app._sighup:
            pytest.skip("no SIGHUP handler on this platform / loop")
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.state == ev.TRAINING and app.state.step > 0, 60,
                         what="training")
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_until(None, lambda: not app.is_running, 60, 0.05, what="the app to exit after SIGHUP")
    (run,) = list_runs(tmp_path / "runs")
    assert run.state == ev.TRAINING  # its trainer is alive (else: interrupted)
    from engine.cli.runs_cmd import control

    assert control(run, "stop", 60)[0]  # the trainer still answers
    await wait_until(None, lambda: list_runs(tmp_path / "runs")[0].state == ev.STOPPED, 60, what="stopped")


def test_the_screen_is_drawn_through_a_handle_that_silencing_fd_2_cannot_mute(tmp_path):
    """The engine points fd 2 at /dev/null while chdb starts; Textual draws on fd 2. Frames
    (and the terminal reset at exit) written meanwhile were lost. The app's driver draws
    through a private duplicate, which the silencing does not touch."""
    import subprocess
    import sys

    screen = tmp_path / "screen"
    code = (
        "import os, sys\n"
        f"fd = os.open({str(screen)!r}, os.O_WRONLY | os.O_CREAT); os.dup2(fd, 2)\n"
        "from engine.data.client import _quiet_stderr\n"
        "from ionis_tui.terminal import driver_class, private_terminal\n"
        "from textual.app import App\n"
        "import asyncio\n"
        "async def build():\n"
        "    return driver_class()(App())\n"
        "driver = asyncio.run(build())\n"
        "assert driver._file is private_terminal() and driver._file.fileno() != 2\n"
        "with _quiet_stderr():\n"
        "    driver._file.write('frame drawn while fd 2 is silenced'); driver._file.flush()\n"
        "    os.write(2, b'chdb noise')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert screen.read_text() == "frame drawn while fd 2 is silenced"


def _pty_app(cfg: Path, typed: bytes, until: bytes, timeout: float = 120.0,
             size: tuple[int, int] = (100, 30)) -> bytes:
    """Run the real app on a pseudo-terminal, type `typed` right after the process starts
    (long before the first frame), and read the screen until `until` shows; the output."""
    import pty
    import select
    import sys
    import time

    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(Path(__file__).resolve().parents[1])
        os.environ.update(TERM="xterm-256color", COLUMNS=str(size[0]), LINES=str(size[1]))
        os.execv(sys.executable, [sys.executable, "-m", "ionis_tui", "--config", str(cfg)])
    out, deadline = b"", time.monotonic() + timeout
    try:
        os.write(fd, typed)
        while time.monotonic() < deadline and until not in out:
            if select.select([fd], [], [], 0.05)[0]:
                try:
                    out += os.read(fd, 65536)
                except OSError:
                    break
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    return out


def test_a_key_typed_before_the_first_frame_is_kept(tmp_path):
    """Issue 13 item 3: over SSH a user types while the app starts; a key sent right after the
    process starts (long before the first frame) must still be answered."""
    cfg = tmp_path / "app.toml"
    cfg.write_text(f'[database]\npath = "{tmp_path / "db"}"\n')
    out = _pty_app(cfg, b"?", b"escape closes a screen", timeout=60, size=(80, 24))
    assert b"escape closes a screen" in out.split(b"\x1b[?1049h", 1)[-1], "the early '?' was lost"


@pytest.mark.slow  # seeds a database and starts a trainer
def test_start_typed_before_the_first_frame_waits_for_the_database_check_then_starts(tmp_path):
    """Issue 21 item 5: `s` typed while the app starts (the database check still running) is
    kept: the run starts once the check has answered (it used to be refused, or lost)."""
    import subprocess
    import sys

    cfg = tmp_path / "app.toml"
    cfg.write_text(f'[database]\npath = "{tmp_path / "db"}"\ntable = "early"\n'
                   f'[train]\nepochs = 1\nbatch_size = 1024\ndevice = "cpu"\n'
                   f'[runs]\ndir = "{tmp_path / "runs"}"\n')
    seeded = subprocess.run([sys.executable, "-m", "ionis_tui", "--config", str(cfg), "data", "seed",
                             "--rows", "2000"], cwd=Path(__file__).resolve().parents[1],
                            capture_output=True, text=True, timeout=300)
    assert seeded.returncode == 0, seeded.stderr
    out = _pty_app(cfg, b"s", b"started in its own process")
    assert b"started in its own process" in out, "the early 's' did not start a run"
    assert b"database check is still running" not in out
    assert list((tmp_path / "runs").iterdir()), "no run folder"
