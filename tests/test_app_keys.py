"""[keys]: the dashboard's bindings remapped from the settings (footer, help and the key
itself follow), bad maps refused with one message; `?` lists the keys of the screen it was
opened from."""

from __future__ import annotations

import pytest
from conftest import wait_until
from pilot_tools import screen_text

from engine.errors import SettingsError
from engine.settings import KeySettings, RunsSettings, Settings, TrainSettings, load_settings
from engine.train import events as ev
from engine.train.synthetic import synthetic_rows
from ionis_tui.app import IonisApp
from ionis_tui.screens.help import HelpScreen

ROWS = synthetic_rows(2000, seed=3)


def settings(tmp_path, **keys) -> Settings:
    return Settings(train=TrainSettings(epochs=2, batch_size=256, device="cpu", progress_interval=0.05),
                    runs=RunsSettings(dir=str(tmp_path / "runs")), keys=KeySettings(**keys))


def help_text(app: IonisApp) -> str:
    assert isinstance(app.screen, HelpScreen)
    return "\n".join(f"{k} {what}" for k, what in app.screen.keys)


async def test_remapped_keys_drive_the_dashboard_and_show_in_footer_and_help(tmp_path):
    app = IonisApp(settings(tmp_path, start="f5", pause="ctrl+t", help="h"), rows=ROWS)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "start" in screen_text(app).splitlines()[-1], 10, what="footer")
        footer = screen_text(app).splitlines()[-1]
        assert "f5 start" in footer.replace("F5", "f5") and "h help" in footer, footer
        assert "s start" not in footer
        await pilot.press("s")   # the old key no longer starts a run
        await pilot.pause(0.2)
        assert app.state.state == ev.IDLE and not app.runner.running
        await pilot.press("h")
        text = help_text(app)
        assert "start a new training run" in text and text.lower().count("f5 start") == 1, text
        assert "^t pause" in text or "ctrl+t pause" in text, text
        await pilot.press("escape")
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.runner.running or app.state.state != ev.IDLE, 30, what="started")
        await wait_until(pilot, lambda: not app.runner.running, 60, what="run ended")


async def test_help_lists_the_keys_of_the_screen_it_opens_on(tmp_path):
    app = IonisApp(settings(tmp_path), rows=ROWS)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        dash = help_text(app)
        assert "start a new training run" in dash and "open the selected run" not in dash
        await pilot.press("escape", "r", "question_mark")
        runs = help_text(app)
        assert "open the selected run" in runs and "start a new training run" not in runs, runs
        assert "Focus Next" not in runs   # Textual's own keys are not ours to explain
        await pilot.press("escape")
        await wait_until(pilot, lambda: "open run" in screen_text(app).splitlines()[-1], 10, what="footer")
        assert "⏎ open run" in screen_text(app).splitlines()[-1]


@pytest.mark.parametrize("keys,message", [
    ({"start": "p"}, "key 'p' is bound to both 'start' and 'pause'"),
    ({"stop": "a b"}, "keys.stop"),
    ({"launch": "l"}, "unknown key 'keys.launch'"),
])
def test_bad_key_maps_are_refused_with_one_message(tmp_path, keys, message):
    body = "[keys]\n" + "".join(f'{k} = "{v}"\n' for k, v in keys.items())
    (tmp_path / "s.toml").write_text(body)
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path / "s.toml")
    assert message in str(err.value) and str(err.value).count("\n") == 0, str(err.value)
