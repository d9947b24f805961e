"""A tour of every screen of the real app under Pilot: on each, the keys its classes declare
(the screen's BINDINGS and those of this project's widgets on it, plus the app's `?`) and
what its `?` help screen lists. The README key table test and the help tests read it.

Keys are collected from the classes' BINDINGS, never from a hand list; `all_binding_classes`
finds every class in ionis_tui that declares BINDINGS, so a new screen or widget with keys
that the tour does not reach fails the coverage test."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from conftest import wait_until
from textual.binding import Binding

import ionis_tui
from engine.settings import Settings


@dataclass
class Stop:
    """One screen of the tour."""
    cls: type
    title: str                               # its HELP_TITLE (README key table's screen column)
    modal: bool = False                      # a dialog: no `?` there
    declared: dict[str, dict[str, str]] = field(default_factory=dict)  # class -> {key display: key name}
    help_title: str = ""                     # the `?` screen's title ("" where no help opens)
    help_rows: tuple[tuple[str, str], ...] = ()

    @property
    def keys(self) -> dict[str, str]:
        """Key display -> key name ("esc" -> "escape") of every key bound on this screen."""
        return {d: n for keys in self.declared.values() for d, n in keys.items()}

    @property
    def help_tokens(self) -> set[str]:
        return {tok for keys, _ in self.help_rows for tok in keys.split()}


def all_binding_classes() -> set[type]:
    """Every class defined in ionis_tui that declares its own BINDINGS."""
    found: set[type] = set()
    for mod in pkgutil.walk_packages(ionis_tui.__path__, "ionis_tui."):
        m = importlib.import_module(mod.name)
        for _, cls in inspect.getmembers(m, inspect.isclass):
            if cls.__module__ == m.__name__ and vars(cls).get("BINDINGS"):
                found.add(cls)
    return found


def declared_keys(app, cls: type) -> dict[str, str]:
    """The keys `cls` declares (each key of a "a,b" binding): {as the app displays the key
    alone: its name}, e.g. {"esc": "escape", "[": "left_square_bracket"}."""
    return {app.get_key_display(Binding(k.strip(), "")): k.strip()
            for b in vars(cls).get("BINDINGS", ()) if isinstance(b, Binding) for k in b.key.split(",")}


def runs_folder(root: Path, checkpoint: Path) -> Path:
    """A runs folder holding one finished run (state.json + best.safetensors), so the runs
    list has a run to open and verify and the matrix have a default model."""
    run = root / "runs" / "20260101-000000-v22"
    run.mkdir(parents=True)
    shutil.copy(checkpoint, run / "best.safetensors")
    (run / "state.json").write_text(json.dumps({"state": "finished", "epochs_done": 1, "epochs_total": 1}))
    return run.parent


async def _visit(pilot, stops: list[Stop]) -> None:
    """Record the screen on top now, and open its help."""
    app = pilot.app
    screen = app.screen
    stop = Stop(type(screen), getattr(screen, "HELP_TITLE", type(screen).__name__), screen.is_modal)
    classes = {type(screen), *(type(w) for w in screen.walk_children())}
    for cls in classes:
        for k in inspect.getmro(cls):
            if k.__module__.startswith("ionis_tui") and vars(k).get("BINDINGS"):
                stop.declared[k.__name__] = declared_keys(app, k)
    if not screen.is_modal:  # a dialog's keys stop at its edge: the app's `?` does not reach it
        stop.declared[type(app).__name__] = declared_keys(app, type(app))
    await pilot.press("question_mark")
    await pilot.pause(0.2)
    from ionis_tui.screens.help import HelpScreen

    if isinstance(app.screen, HelpScreen) and app.screen is not screen:
        stop.help_title, stop.help_rows = app.screen.title_text, app.screen.keys
        await pilot.press("escape")
        await pilot.pause(0.1)
    stops.append(stop)


async def tour(root: Path, checkpoint: Path) -> list[Stop]:
    from ionis_tui.app import IonisApp
    from ionis_tui.screens.confirm import ConfirmScreen
    from ionis_tui.screens.help import HelpScreen
    from ionis_tui.screens.quit import QuitScreen
    from ionis_tui.screens.verify import VerifyScreen

    runs = runs_folder(root, checkpoint)
    s = Settings(runs={"dir": str(runs)}, train={"device": "cpu"}, database={"path": str(root / "db.chdb")})
    app = IonisApp(s, check_db=False)
    stops: list[Stop] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        await _visit(pilot, stops)                                   # dashboard
        await pilot.press("r")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "RunsScreen", 10, what="runs list")
        await pilot.pause(0.3)
        await _visit(pilot, stops)
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "RunDetailScreen", 10, what="run detail")
        await _visit(pilot, stops)
        await pilot.press("escape", "escape", "v")
        await wait_until(pilot, lambda: isinstance(app.screen, VerifyScreen) and app.screen.report is not None
                         and not app.screen.running, 60, what="verify suite")
        await _visit(pilot, stops)
        for key, name in (("enter", "DetailScreen"), ("o", "ChooseModelScreen"), ("e", "EvaluateScreen")):
            await pilot.press(key)
            await wait_until(pilot, lambda n=name: type(app.screen).__name__ == n, 10, what=name)
            await pilot.pause(0.3)
            await _visit(pilot, stops)
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, VerifyScreen), 10, what="back to verify")
        await pilot.press("escape", "m")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "MatrixScreen", 10, what="matrix")
        await pilot.pause(0.5)
        await _visit(pilot, stops)
        for key, name in (("l", "PresetPicker"), ("o", "CheckpointPicker")):
            await pilot.press(key)
            await wait_until(pilot, lambda n=name: type(app.screen).__name__ == n, 10, what=name)
            await _visit(pilot, stops)
            await pilot.press("escape")
            await wait_until(pilot, lambda: type(app.screen).__name__ == "MatrixScreen", 10, what="back")
        await pilot.press("escape")
        # The dialogs that need a live run (quit with a run active, stop) are opened directly.
        for dialog in (QuitScreen("20260101-000000-v22"), ConfirmScreen("Stop the run?")):
            await app.push_screen(dialog)
            await pilot.pause(0.2)
            await _visit(pilot, stops)
            await pilot.press("escape")
            await pilot.pause(0.1)
        await pilot.press("question_mark")                           # the help screen itself
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), 10, what="help")
        stops.append(Stop(HelpScreen, getattr(HelpScreen, "HELP_TITLE", "help"), True,
                          {"HelpScreen": declared_keys(app, HelpScreen)}))
        await pilot.press("escape")
    return stops
