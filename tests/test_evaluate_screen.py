"""The evaluate screen and the verify screen's skill group, driven through Textual's Pilot:
on the synthetic spot fixture (any clone), and with V22's figures on the real file of
../shared (skipped without it)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from pilot_tools import Host
from spots_fixtures import COMBINED, N_LONG, SPOTS
from textual.widgets import DataTable, Static

from engine.checkpoint import load_model
from engine.settings import Settings
from ionis_tui.screens.evaluate import EvaluateScreen
from ionis_tui.screens.verify import VerifyScreen
from tests.conftest import REAL_SPOTS
from tests.test_verify_screen import finished, plain, row


def _settings(tmp_path, spots: str) -> Settings:
    s = Settings(runs={"dir": str(tmp_path / "runs")})
    s.evaluate.spots = spots
    s.evaluate.climatology_table = "no_such_table_here"  # baselines b, c: n/a, said so
    s.database.path = str(tmp_path / "db.chdb")
    return s


@pytest.fixture
def real_spots():
    if not REAL_SPOTS.is_file():
        pytest.skip(f"real spot file not found at {REAL_SPOTS} (shared/ must sit beside the repo)")
    return str(REAL_SPOTS)


async def _done(pilot, scr: EvaluateScreen, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not scr.finished:
        assert time.monotonic() < end, "the evaluation did not finish"
        await asyncio.sleep(0.05)
    await pilot.pause()


async def test_evaluate_screen_table_plots_level_and_save(v22_file, real_spots, tmp_path, chdb_path):
    s = _settings(tmp_path, real_spots)
    s.database.path = chdb_path  # one embedded engine per process: share the session's
    app = Host(lambda: EvaluateScreen(s, lambda: load_model(v22_file), v22_file.name))
    async with app.run_test(size=(80, 24)) as pilot:
        scr = app.screen
        await _done(pilot, scr)
        t = scr.query_one(DataTable)
        assert row(t, "all")[1] == "13271" and row(t, "30m")[1] == "8681"  # the build's filters
        assert "does not beat the band mean" in plain(scr, "#ev-status")
        assert "b, c n/a" in plain(scr, "#ev-head")
        assert t.size.width <= 80
        await pilot.press("g")
        assert scr.level == "signatures" and int(row(t, "all")[1]) < 13271
        await pilot.press("w")
        saved = list((tmp_path / "runs" / "evaluate").glob("*.json"))
        assert len(saved) == 1 and json.loads(saved[0].read_text())["levels"]["signatures"]["n"] > 0
        assert len(list((tmp_path / "runs" / "evaluate").glob("*.md"))) == 1


def _long(band: str) -> int:
    return sum(s["band"] == band and s["km"] >= 500 for s in SPOTS)


async def test_evaluate_screen_on_the_fixture_table_level_and_save(v22_file, tmp_path, chdb_path):
    s = _settings(tmp_path, str(COMBINED))
    s.database.path = chdb_path
    s.ingest.min_spots = 1  # the small fixture then makes > 100 signatures (graded)
    app = Host(lambda: EvaluateScreen(s, lambda: load_model(v22_file), v22_file.name))
    async with app.run_test(size=(80, 24)) as pilot:
        scr = app.screen
        await _done(pilot, scr)
        t = scr.query_one(DataTable)
        assert row(t, "all")[1] == str(N_LONG)  # the build's filters: short paths left out
        assert row(t, "30m")[1] == str(_long("30m")) and row(t, "20m")[1] == str(_long("20m"))
        assert "b, c n/a" in plain(scr, "#ev-head") and t.size.width <= 80
        await pilot.press("g")
        assert scr.level == "signatures" and int(row(t, "all")[1]) < N_LONG
        await pilot.press("w")
        saved = list((tmp_path / "runs" / "evaluate").glob("*.json"))
        assert len(saved) == 1 and json.loads(saved[0].read_text())["levels"]["signatures"]["n"] > 0


async def test_verify_screen_skill_rows_on_the_fixture_open_evaluate(v22_file, tmp_path, chdb_path):
    s = _settings(tmp_path, str(COMBINED))
    s.database.path = chdb_path
    app = Host(lambda: VerifyScreen(s, checkpoint=v22_file))
    async with app.run_test(size=(80, 24)) as pilot:
        scr = app.screen
        await finished(pilot, scr)
        t = scr.query_one(DataTable)
        assert row(t, "group:skill")[2].startswith("SKILL (real) ")
        assert row(t, "SKILL-A")[0] in ("PASS", "FAIL") and row(t, "SKILL-20m")[0] in ("PASS", "FAIL")
        assert row(t, "SKILL-40m")[0] == row(t, "SKILL-160m")[0] == "n/a"  # < 100 spots, none
        await pilot.press("e")
        ev = app.screen
        assert isinstance(ev, EvaluateScreen)
        await _done(pilot, ev)
        assert row(ev.query_one(DataTable), "all")[1] == str(N_LONG)
        # the model lies outside the working folder, shown folder-first; the saved report is
        # named after the file itself, not after that display text
        await pilot.press("w")
        saved = [p.name for p in (tmp_path / "runs" / "evaluate").glob("*.json")]
        assert len(saved) == 1 and saved[0].startswith(f"evaluate-{v22_file.stem}-"), saved
        await pilot.press("escape")
        assert app.screen is scr


async def test_evaluate_screen_without_a_source_says_how_to_set_one(v22_file, tmp_path):
    app = Host(lambda: EvaluateScreen(_settings(tmp_path, ""), lambda: load_model(v22_file), "v22"))
    async with app.run_test(size=(80, 24)) as pilot:
        scr = app.screen
        await _done(pilot, scr)
        assert "[evaluate] spots" in plain(scr, "#ev-status") and scr.evaluation is None
        await pilot.press("w")  # nothing to save: no crash, nothing written
        assert not (tmp_path / "runs" / "evaluate").exists()


async def test_verify_screen_shows_skill_per_band_and_opens_evaluate(v22_file, real_spots, tmp_path, chdb_path):
    s = _settings(tmp_path, real_spots)
    s.database.path = chdb_path
    app = Host(lambda: VerifyScreen(s, checkpoint=v22_file))
    async with app.run_test(size=(80, 24)) as pilot:
        scr = app.screen
        await finished(pilot, scr)
        t = scr.query_one(DataTable)
        # columns: result, grade, name, value, threshold, id; a group row names it in "name"
        assert row(t, "group:skill")[2].startswith("SKILL (real) ")
        assert row(t, "SKILL-A")[0] == "FAIL" and row(t, "SKILL-40m")[0] == "PASS"
        assert row(t, "SKILL-160m")[0] == "n/a"
        await pilot.press("e")
        ev = app.screen
        assert isinstance(ev, EvaluateScreen)
        await _done(pilot, ev)
        assert row(ev.query_one(DataTable), "all")[1] == "13271"
        await pilot.press("escape")
        assert app.screen is scr
        assert isinstance(scr.query_one("#vf-summary", Static), Static)


async def test_evaluate_screen_says_n_a_with_the_count_for_too_few_spots(v22_file, tmp_path, chdb_path):
    one = tmp_path / "one.csv"
    one.write_text("".join(COMBINED.read_text().splitlines(keepends=True)[:2]))
    s = _settings(tmp_path, str(one))
    s.database.path = chdb_path
    app = Host(lambda: EvaluateScreen(s, lambda: load_model(v22_file), v22_file.name))
    async with app.run_test(size=(80, 24)) as pilot:
        scr = app.screen
        await _done(pilot, scr)
        assert "n/a: only 1 rows, fewer than the 100" in plain(scr, "#ev-status")
