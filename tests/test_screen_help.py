"""The `?` help of every screen lists every key that screen binds, each key as the footer
shows a single key; its title names the screen (issue 22). The tour (key_tour.py) opens
every screen of the real app and reads the keys from the classes' BINDINGS."""

from __future__ import annotations

import pytest
from key_tour import all_binding_classes, tour

_TOUR: list = []


@pytest.fixture
async def stops(v22_file, tmp_path_factory):
    if not _TOUR:  # one tour for the module: it opens every screen once
        _TOUR.extend(await tour(tmp_path_factory.mktemp("tour"), v22_file))
    return _TOUR


async def test_every_bound_key_is_in_its_screens_help(stops):
    """The dashboard's help left out `b` (build), `d` (seed) and `g` (check db) whenever they
    did nothing at that moment."""
    seen = {s.cls.__name__ for s in stops} | {name for s in stops for name in s.declared}
    missing = {c.__name__ for c in all_binding_classes()} - seen
    assert not missing, f"screens or widgets with keys that the key tour does not open: {missing}"
    for stop in stops:
        if stop.modal:
            continue  # dialogs (and help itself): keys on their buttons and in the README key table
        assert stop.help_rows, f"{stop.title}: `?` opened no help"
        missing = set(stop.keys) - stop.help_tokens
        assert not missing, f"{stop.title}: keys bound but not in `?`: {missing}; help: {stop.help_rows}"


async def test_help_shows_each_key_once_as_a_single_key(stops):
    """Matrix help read "←→[] [  hour of day earlier" and "↓  previous band": the footer's
    combined label leaked into the help's key column."""
    for stop in stops:
        tokens = [tok for keys, _ in stop.help_rows for tok in keys.split()]
        assert len(tokens) == len(set(tokens)), f"{stop.title}: a key listed twice: {stop.help_rows}"
        assert set(tokens) <= set(stop.keys), f"{stop.title}: not single keys: {set(tokens) - set(stop.keys)}"
    matrix = dict((what, keys) for keys, what in next(s for s in stops if s.cls.__name__ == "MatrixScreen").help_rows)
    assert matrix["hour of day earlier"] == "← [" and matrix["hour of day later"] == "→ ]", matrix
    assert matrix["next band"] == "↑" and matrix["previous band"] == "↓", matrix


async def test_help_title_names_the_screen(stops):
    """The evaluate screen's help was titled with its class name, "EvaluateScreen"."""
    titles = {s.cls.__name__: s.help_title for s in stops if s.help_rows}
    assert titles["EvaluateScreen"] == "evaluate keys", titles
    assert not [t for t in titles.values() if "Screen" in t or "Picker" in t], titles


async def test_verify_table_cuts_long_cells_with_an_ellipsis(v22_file, tmp_path):
    """At 80x24 the verify table cut test names and group headers ("BAND x TIME · 9/11
    passed · GP 3…") mid-word with no sign that text is missing."""
    from conftest import wait_until
    from pilot_tools import Host
    from rich.text import Text
    from textual.widgets import DataTable

    from engine.settings import Settings
    from ionis_tui.screens.verify import VerifyScreen

    app = Host(lambda: VerifyScreen(Settings(runs={"dir": str(tmp_path)}), checkpoint=v22_file))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, VerifyScreen) and app.screen.report is not None
                         and not app.screen.running, 60, what="suite")
        screen, t = app.screen, app.screen.query_one(DataTable)
        names = {r.id: r.name for r in screen.report.results}
        cut = 0
        for row_key in t.rows:
            for col, cell in zip(t.columns.values(), t.get_row(row_key), strict=True):
                text = cell.plain if isinstance(cell, Text) else str(cell)
                assert len(text) <= col.width, f"{row_key.value}/{col.label}: {text!r} wider than {col.width}"
            full = names.get(row_key.value)
            shown = t.get_cell(row_key, "test")
            shown = shown.plain if isinstance(shown, Text) else str(shown)
            if row_key.value.startswith("group:") or full and len(full) > len(shown):
                if shown.endswith("…"):
                    cut += 1
                else:
                    assert full is None or shown == full, f"{full!r} cut to {shown!r} without an ellipsis"
        head = [c.plain for c in t.get_row("group:band_time")]  # was "BAND x TIME · 9/11 pas", no sign
        full = "BAND x TIME · 9/11 passed"
        assert head[2] == full or head[2].endswith("…") and full.startswith(head[2][:-1]), head
        assert cut, "nothing was long enough to be cut at 80 columns"


async def test_idle_header_shows_the_device_once_torch_has_loaded(tmp_path, monkeypatch):
    """The header's device field stayed "…" while idle: the device was found in a worker
    after the first frame, but the header was not redrawn."""
    import time

    from conftest import wait_until
    from pilot_tools import screen_text

    import engine.model
    import ionis_tui.app as app_module
    from engine.settings import Settings

    real = engine.model.pick_device

    def slow_pick_device(preference):  # torch's import takes seconds on a small machine
        time.sleep(1.0)
        return real(preference)

    monkeypatch.setattr(app_module, "_device_now", lambda preference: "…")  # as before torch loads
    monkeypatch.setattr(engine.model, "pick_device", slow_pick_device)
    s = Settings(runs={"dir": str(tmp_path / "runs")}, train={"device": "cpu"},
                 database={"path": str(tmp_path / "db.chdb")})
    app = app_module.IonisApp(s, check_db=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.state.device != "…", 60, what="device found")
        await pilot.pause(0.5)
        parts = [p.strip() for p in screen_text(app).splitlines()[0].split("│")]
        assert "cpu" in parts and "…" not in parts, parts
