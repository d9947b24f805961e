"""Small dialogs of the matrix explorer: pick a preset path, pick a checkpoint."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static

from engine.matrix.presets import PRESET_PATHS, PresetPath

_CSS = """
{cls} {{ align: center middle; }}
{cls} > Vertical {{
    width: 90%; max-width: 100; height: auto; max-height: 90%;
    border: round $accent; background: $surface; padding: 0 1;
}}
{cls} OptionList {{ height: auto; max-height: 16; }}
{cls} .picker-error {{ color: $error; height: auto; }}
"""


class PresetPicker(ModalScreen[PresetPath | None]):
    HELP_TITLE = "preset path"
    DEFAULT_CSS = _CSS.format(cls="PresetPicker")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Preset path (Enter to choose, Esc to cancel)")
            yield OptionList(*(p.label for p in PRESET_PATHS), id="preset-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(PRESET_PATHS[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)


class CheckpointPicker(ModalScreen[str | None]):
    """Choices are (label, value) pairs; value "live", "off" or a file path. A typed path must
    name an existing file before the dialog closes; reading it is the caller's job."""

    HELP_TITLE = "choose checkpoint"

    DEFAULT_CSS = _CSS.format(cls="CheckpointPicker")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        self._title = title
        self._choices = choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title)
            yield OptionList(*(label for label, _ in self._choices), id="ckpt-list")
            yield Input(placeholder="or type a .safetensors / .pt path and press Enter", id="ckpt-path")
            yield Static("", classes="picker-error", id="ckpt-error")

    def on_mount(self) -> None:
        target = self.query_one(OptionList) if self._choices else self.query_one(Input)
        target.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self._choices[event.option_index][1])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        p = Path(text).expanduser()
        if not text:
            self.query_one("#ckpt-error", Static).update("type a path to a checkpoint file")
        elif not p.is_file():
            self.query_one("#ckpt-error", Static).update(f"no such file: {p}")
        else:
            self.dismiss(str(p))

    def action_cancel(self) -> None:
        self.dismiss(None)
