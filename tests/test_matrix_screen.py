"""The matrix explorer screen driven through Textual's Pilot: a tiny host app pushes MatrixScreen
with the published V22 checkpoint; we type into the fields, press the keys, and read the table."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pilot_tools import Host
from rich.console import Console
from textual.coordinate import Coordinate
from textual.widgets import Input, OptionList, Static

from engine.checkpoint import from_live, load_model
from engine.matrix import compute_matrix, make_path
from engine.model import IonisGate
from engine.settings import Settings
from ionis_tui.screens.matrix import MatrixScreen
from ionis_tui.widgets.matrix_pickers import CheckpointPicker, PresetPicker
from ionis_tui.widgets.matrix_table import MatrixGrid


def cells(screen: MatrixScreen) -> list[list[str]]:
    g = screen.query_one(MatrixGrid)
    return [[g.get_cell_at(Coordinate(i, j)).plain for j in range(len(g.columns))]
            for i in range(g.row_count)]


def expected(lm, tx, rx, band, hour, month, units="db") -> list[list[str]]:
    r = compute_matrix(lm, make_path(tx, rx, band, hour, month))
    fmt = "{:+.1f}" if units == "db" else "{:+.2f}"
    return [[fmt.format(float(v)) for v in row] for row in r.values(units)]


def text_of(screen, sel: str) -> str:
    """What a Static shows, as plain text (its content may be a str, Text or a Rich Table)."""
    content = screen.query_one(sel, Static).content
    if isinstance(content, str):
        return content
    console = Console(width=200, file=io.StringIO(), color_system=None)
    with console.capture() as cap:
        console.print(content)
    return cap.get()


async def settle(pilot) -> None:
    """Let the screen's model workers (loads, live snapshots, picker lists) finish, then draw."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def type_into(pilot, screen, key: str, text: str) -> None:
    inp = screen.query_one(f"#in-{key}", Input)
    inp.focus()
    inp.value = ""
    await pilot.press(*text)
    await settle(pilot)


@pytest.fixture(scope="module")
def v22_lm(v22_file):
    return load_model(v22_file)


async def test_inputs_keys_and_errors(v22_file, v22_lm, tmp_path):
    settings = Settings(runs={"dir": str(tmp_path / "runs")})
    app = Host(lambda: MatrixScreen(settings, checkpoint=v22_file))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        scr = app.screen
        assert isinstance(scr, MatrixScreen)
        assert "ionis_v22_gamma" in text_of(scr, "#mx-model")
        assert cells(scr) == expected(v22_lm, "W3", "G", "20m", 12, 6)
        assert isinstance(app.focused, MatrixGrid)

        # typing a new RX redraws at once
        await type_into(pilot, scr, "rx", "JA")
        ja = expected(v22_lm, "W3", "JA", "20m", 12, 6)
        assert cells(scr) == ja
        # bad input: a red message next to the field, the last good matrix stays, nothing crashes
        await type_into(pilot, scr, "rx", "ZZ99")
        assert "unknown location 'ZZ99'" in text_of(scr, "#err-rx")
        assert cells(scr) == ja
        await type_into(pilot, scr, "band", "11m")
        assert "unknown band '11m'" in text_of(scr, "#err-band")
        await type_into(pilot, scr, "hour", "25")
        assert "hour 25 is outside" in text_of(scr, "#err-hour")
        await type_into(pilot, scr, "month", "13")
        assert "month 13" in text_of(scr, "#err-month")
        for key, good in (("rx", "G"), ("band", "20m"), ("hour", "12"), ("month", "6")):
            await type_into(pilot, scr, key, good)
            assert text_of(scr, f"#err-{key}") == ""

        # escape leaves the field; arrows then step hour and band
        await pilot.press("escape")
        assert isinstance(app.focused, MatrixGrid)
        await pilot.press("right")
        assert scr.query_one("#in-hour", Input).value == "13"
        assert cells(scr) == expected(v22_lm, "W3", "G", "20m", 13, 6)
        await pilot.press("right_square_bracket")      # "]" / "[" step the hour too
        assert scr.path.hour == 14
        await pilot.press("left_square_bracket", "left_square_bracket", "left")
        assert scr.path.hour == 11
        await pilot.press("up")
        assert scr.query_one("#in-band", Input).value == "17m"
        assert cells(scr) == expected(v22_lm, "W3", "G", "17m", 11, 6)
        await pilot.press("down", "down", "b")
        assert scr.path.band.name == "20m"
        await pilot.press("u")
        assert cells(scr) == expected(v22_lm, "W3", "G", "20m", 11, 6, units="sigma")
        assert "SNR (σ)" in text_of(scr, "#mx-title")

        # the selected cell's decomposition follows the cursor
        assert "SFI 70, Kp 0" in text_of(scr, "#mx-cell")
        await pilot.press("shift+down", "shift+down", "shift+right", "shift+right")
        await settle(pilot)
        cell = text_of(scr, "#mx-cell")
        c = compute_matrix(v22_lm, make_path("W3", "G", "20m", 11, 6)).cell(2, 2)
        assert "SFI 150, Kp 2" in cell and f"{c['base']:+.3f}" in cell and f"{c['storm']:+.3f}" in cell

        # preset list
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, PresetPicker)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.screen is scr
        assert (scr.query_one("#in-tx", Input).value, scr.query_one("#in-rx", Input).value) == ("OX", "OH")
        assert cells(scr) == expected(v22_lm, "OX", "OH", "20m", 11, 6, units="sigma")

        # escape with the table focused leaves the screen
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, MatrixScreen)


async def test_compare_mode_and_checkpoint_choice(v22_file, other_v20_file, v22_lm, tmp_path):
    v20 = load_model(other_v20_file)
    settings = Settings(runs={"dir": str(tmp_path / "runs")})
    app = Host(lambda: MatrixScreen(settings, checkpoint=v22_file))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        scr = app.screen
        before = cells(scr)
        # d opens the chooser; a typed path that does not exist is refused inside the dialog
        await pilot.press("d")
        await settle(pilot)
        picker = app.screen
        assert isinstance(picker, CheckpointPicker)
        inp = picker.query_one("#ckpt-path", Input)
        inp.focus()
        inp.value = str(tmp_path / "missing.safetensors")
        await pilot.press("enter")
        await settle(pilot)
        assert "no such file" in text_of(picker, "#ckpt-error")
        inp.value = str(other_v20_file)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is scr
        a, b = compute_matrix(v22_lm, make_path("W3", "G", "20m", 12, 6)), \
            compute_matrix(v20, make_path("W3", "G", "20m", 12, 6))
        assert cells(scr) == [[f"{float(v):+.1f}" for v in row] for row in (a.db - b.db)]
        assert cells(scr) != before
        assert "A - B" in text_of(scr, "#mx-title") and "other_v20" in text_of(scr, "#mx-model")
        assert " B " in text_of(scr, "#mx-cell") and "A - B" in text_of(scr, "#mx-cell")
        # the difference follows the inputs too
        await pilot.press("right")
        a13 = compute_matrix(v22_lm, make_path("W3", "G", "20m", 13, 6)).db
        b13 = compute_matrix(v20, make_path("W3", "G", "20m", 13, 6)).db
        assert cells(scr) == [[f"{float(v):+.1f}" for v in row] for row in (a13 - b13)]
        # d again offers "compare off" first
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, CheckpointPicker)
        app.screen.query_one(OptionList).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert scr.model_b is None and cells(scr) == expected(v22_lm, "W3", "G", "20m", 13, 6)

        # o: a file that is not a checkpoint is reported, the shown model stays
        junk = tmp_path / "junk.safetensors"
        junk.write_bytes(b"not a checkpoint")
        await pilot.press("o")
        await settle(pilot)
        inp = app.screen.query_one("#ckpt-path", Input)
        inp.focus()
        inp.value = str(junk)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is scr
        assert "cannot read checkpoint" in text_of(scr, "#mx-status")
        assert "ionis_v22_gamma" in text_of(scr, "#mx-model")
        # o with a real file switches the model
        await pilot.press("o")
        await settle(pilot)
        inp = app.screen.query_one("#ckpt-path", Input)
        inp.focus()
        inp.value = str(other_v20_file)
        await pilot.press("enter")
        await settle(pilot)
        assert "other_v20" in text_of(scr, "#mx-model")
        assert cells(scr) == expected(v20, "W3", "G", "20m", 13, 6)


async def test_live_model_wide_layout(tmp_path):
    model = IonisGate("v22").eval()
    app = Host(lambda: MatrixScreen(Settings(runs={"dir": str(tmp_path)}), live_model=lambda: from_live(model)))
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        scr = app.screen
        assert "live" in text_of(scr, "#mx-model")
        assert cells(scr) == expected(from_live(model), "W3", "G", "20m", 12, 6)
        # the wide layout puts the plot beside the matrix
        assert scr.has_class("wide")
        table, plot = scr.query_one(MatrixGrid).region, scr.query_one("#mx-plot").region
        assert plot.x >= table.right and plot.height >= 20
        assert scr.query_one("#mx-body").max_scroll_y == 0        # everything fits, no scrolling
        # a mouse click selects a cell (3rd SFI row, 4th Kp column) and shows its decomposition
        await pilot.click(MatrixGrid, offset=(30, 3))
        await settle(pilot)
        assert scr.query_one(MatrixGrid).selected == (2, 3)
        assert "SFI 150, Kp 3" in text_of(scr, "#mx-cell")


async def test_a_live_model_whose_run_ends_is_labelled_so_and_no_longer_offered(tmp_path):
    """Issue 13 item 5: the matrix kept "(live) [live, refreshed every 2 s]" after the run
    finished, and the picker still offered the live model."""
    model = IonisGate("v22").eval()
    running = {"yes": True}
    app = Host(lambda: MatrixScreen(Settings(runs={"dir": str(tmp_path)}),
                                    live_model=lambda: from_live(model) if running["yes"] else None))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        scr = app.screen
        assert "[live, refreshed every 2 s]" in text_of(scr, "#mx-model")
        running["yes"] = False   # the run ends: the controller has no live model any more
        scr._poll_live()         # what the 2 s timer does
        await settle(pilot)
        assert "[run ended: its last state]" in text_of(scr, "#mx-model")
        assert "refreshed" not in text_of(scr, "#mx-model")
        assert "run has ended" in text_of(scr, "#mx-status")
        assert cells(scr) == expected(from_live(model), "W3", "G", "20m", 12, 6)  # still shown
        assert not any(v == "live" for _, v in scr._choices(compare=False))


async def test_no_model_anywhere(tmp_path, monkeypatch):
    # With no live model, no checkpoint, no runs and no reference folder, the screen says so.
    import engine.model_sources as sources
    monkeypatch.setattr(sources, "published_dir", lambda: None)
    app = Host(lambda: MatrixScreen(Settings(runs={"dir": str(tmp_path)})))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        scr = app.screen
        assert "press o" in text_of(scr, "#mx-status")
        assert "pip install ionis-validate" in text_of(scr, "#mx-status")  # where V22 comes from
        await pilot.press("right", "u", "shift+down")      # keys still work, nothing crashes
        assert scr.path.hour == 13 and scr.query_one(MatrixGrid).row_count == 0


def test_default_source_is_newest_run(tmp_path):
    from engine.checkpoint import save_safetensors
    from engine.model_sources import default_checkpoint
    p = save_safetensors(IonisGate("v22"), tmp_path / "r1" / "best.safetensors")
    assert default_checkpoint(Settings(runs={"dir": str(tmp_path)}).runs.dir) == Path(p)


@pytest.mark.slow  # trains
async def test_keys_answer_while_the_live_model_is_reread(tmp_path):
    """The live poll and model loads run in workers: a key is handled at once while the
    matrix re-reads the live model (the detached trainer's newest last.pt) and the picker
    probes it."""
    import asyncio
    import time

    from conftest import wait_until
    from pilot_tools import send_key

    from engine.settings import RunsSettings, TrainSettings
    from engine.train import events as ev
    from engine.train.synthetic import synthetic_rows
    from ionis_tui.app import IonisApp

    s = Settings(train=TrainSettings(epochs=10_000, batch_size=256, device="cpu", progress_interval=0.05),
                 runs=RunsSettings(dir=str(tmp_path / "runs")))
    app = IonisApp(s, rows=synthetic_rows(3000, seed=2))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.state == ev.TRAINING and app.state.epochs_done >= 1, 90,
                         what="training with a last.pt")
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, MatrixScreen) and app.screen.source_a == "live",
                         30, what="the matrix on the live model")
        scr = app.screen
        scr._poll_live()          # what the 2 s timer does; must not hold up keys
        scr.action_open()         # the picker probes the live model; must not hold them up either
        hour = scr.path.hour
        t0 = time.perf_counter()
        send_key(app, "right")
        while scr.path.hour == hour:
            assert time.perf_counter() - t0 < 60, "the key was not handled"  # a hang guard, generous
            await asyncio.sleep(0.001)
        assert scr.path.hour == (hour + 1) % 24
        # pushed is not yet composed: wait for its list (under load the query came first)
        await wait_until(pilot, lambda: isinstance(app.screen, CheckpointPicker)
                         and len(app.screen.query(OptionList)) > 0, 30, what="the picker")
        first = app.screen.query_one(OptionList).get_option_at_index(0).prompt
        assert str(first).startswith("live model")
        app.runner.stop()
        await wait_until(pilot, lambda: not app.runner.running, 60, what="the run to stop")


async def test_a_burst_of_keys_into_a_field_arrives_whole(v22_file, tmp_path):
    """SSH delivers keys in batches: editing keys and letters sent at once stay in order (plain
    Textual Input ran backspace/end after the letters: "GJO5", "J" or "" instead of "JO51")."""
    from pilot_tools import send_key

    app = Host(lambda: MatrixScreen(Settings(runs={"dir": str(tmp_path / "runs")}), checkpoint=v22_file))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("tab", "tab")
        rx = app.screen.query_one("#in-rx", Input)
        assert app.focused is rx and rx.value == "G"
        for key in ("end", "backspace", "backspace", "backspace", "J", "O", "5", "1"):
            send_key(app, key)     # all queued before the app handles the first
        await pilot.pause(0.5)
        assert rx.value == "JO51" and app.focused is rx
        await pilot.press("enter")   # applies the field and stays in it
        assert app.focused is rx and cells(app.screen) == expected(load_model(v22_file), "W3", "JO51", "20m", 12, 6)


async def test_no_color_legend_names_no_colours(v22_file, tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = Host(lambda: MatrixScreen(Settings(runs={"dir": str(tmp_path / "runs")}), checkpoint=v22_file))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        title = text_of(app.screen, "#mx-title")
        assert "shade" in title and "blue" not in title and "red" not in title, title
