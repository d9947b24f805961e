"""Snapshots of the tool screens and of `?` on each screen, at 80x24 (and 60x18 for verify and
matrix): the layouts a user gets over a plain SSH terminal. Deterministic: the published V22
checkpoint, default inputs, and the verify screen's clock and timing pinned. Update after a
deliberate UI change with `pytest tests/test_screen_snapshots.py --snapshot-update`."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from conftest import wait_until
from pilot_tools import Host

from engine.settings import Settings
from ionis_tui.screens import verify as verify_screen
from ionis_tui.screens.matrix import MatrixScreen
from ionis_tui.screens.runs import RunsScreen
from ionis_tui.screens.verify import VerifyScreen


@pytest.fixture
def v22_here(v22_file, tmp_path, monkeypatch):
    """The checkpoint copied into the working folder: the screens show its path relative to
    it, the same on every machine."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(v22_file, tmp_path / v22_file.name)
    return Path(v22_file.name)


@pytest.fixture
def pinned_verify(monkeypatch):
    """The verify screen shows when and how fast the suite ran: pin both."""
    real = verify_screen.run_suite
    monkeypatch.setattr(verify_screen, "run_suite", lambda *a, **k: dataclasses.replace(real(*a, **k), seconds=1.0))
    monkeypatch.setattr(verify_screen.time, "strftime", lambda fmt, *a: "12:00:00")


def settings(tmp_path) -> Settings:
    # No database: the verify screen's skill group then says the same reason on every machine,
    # whatever other tests of the session left in the default data folder.
    db = {"path": "no-database/ionis.chdb"}
    return Settings(runs={"dir": "runs-none" if tmp_path is None else str(tmp_path)}, database=db)


async def verify_done(pilot) -> None:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, VerifyScreen) and pilot.app.screen.report is not None
                     and not pilot.app.screen.running, 60, what="suite")
    # The table's scroll to its cursor is animated: a picture taken mid-animation differed in
    # style only (1 run in 4 of the whole suite). Let every animation end, then settle.
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [(80, 24), (60, 18)])
def test_verify(snap_compare, v22_here, pinned_verify, size):
    app = Host(lambda: VerifyScreen(settings(None), checkpoint=v22_here))
    assert snap_compare(app, terminal_size=size, run_before=verify_done)


@pytest.mark.parametrize("size", [(80, 24), (60, 18)])
def test_matrix(snap_compare, v22_file, size):
    async def settle(pilot):
        await pilot.pause(0.5)

    app = Host(lambda: MatrixScreen(settings(None), checkpoint=v22_file))
    assert snap_compare(app, terminal_size=size, run_before=settle)


def test_matrix_field_focused(snap_compare, v22_file):
    """The field being typed into stands out, and a lat,lon pair fits in it."""
    async def type_tx(pilot):
        await pilot.pause(0.3)
        await pilot.press("tab", "ctrl+u", *"-33.87,151.21")
        pilot.app.focused.cursor_blink = False  # a blinking cursor would make the picture random
        await pilot.pause(0.5)

    app = Host(lambda: MatrixScreen(settings(None), checkpoint=v22_file))
    assert snap_compare(app, terminal_size=(80, 24), run_before=type_tx)


def test_runs_empty(snap_compare):
    app = Host(lambda: RunsScreen("runs-none"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=lambda pilot: pilot.pause(0.3))


@pytest.mark.parametrize("screen", ["verify", "matrix", "runs"])
def test_help_on_each_screen(snap_compare, v22_here, pinned_verify, screen):
    from ionis_tui.app import IonisApp

    async def open_help(pilot):
        await pilot.press({"verify": "v", "matrix": "m", "runs": "r"}[screen])
        if screen == "verify":
            await verify_done(pilot)
        await pilot.pause(0.5)
        await pilot.press("question_mark")
        await pilot.pause(0.3)

    # the newest run's best is the screens' default model; help names the folders in use
    # relative to the working folder (v22_here: tmp_path), the same on every machine and under
    # any --basetemp (nothing is written to the database)
    runs = Path.cwd() / "runs"
    run = runs / "20260101-000000-v22"
    run.mkdir(parents=True)
    shutil.copy(v22_here, run / "best.safetensors")
    s = Settings(runs={"dir": str(runs)}, train={"device": "cpu"},
                 database={"path": str(Path.cwd() / "ionis.chdb")})
    app = IonisApp(s, check_db=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_help)
