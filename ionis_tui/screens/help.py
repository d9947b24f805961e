"""The `?` screen: the keys of the screen it was opened from (as mapped by [keys]), what they
do, and where runs are kept."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

# Longer words for an action than its footer label, by action name (any screen).
ABOUT: dict[str, str] = {
    "start": "start a new training run",
    "pause": "pause / resume the run (pauses between steps; nothing is lost)",
    "stop": "stop the run (asks first); a checkpoint is saved so it can be resumed",
    "checkpoint": "save a checkpoint now",
    "runs": "runs: every run with its date, epochs, best Pearson/RMSE and state",
    "verify": "verification tests on the live model (or a checkpoint)",
    "matrix": "SFI x Kp matrix on the live model (or a checkpoint)",
    "seed": "seed demo data (offered when the embedded database is empty)",
    "recheck": "check the database again (after fixing a setting)",
    "quit": "quit; with a run active: detach (it keeps training), stop (checkpoint first) or cancel",
    "build": "build signatures from ingested spots (`ionis-tui data ingest`)",
    "import_bundle": "import the IONIS signature bundle (from ionis-download's place); again cancels",
    "attach": "attach to the selected live run (it trains in its own process)",
    "help": "this help (the keys of the screen it was opened from)",
    "resume": "resume the selected run (when it has a last checkpoint)",
    "reload": "read the runs folder again",
    "app.pop_screen": "back to the previous screen",
    "back": "back to the previous screen",
    "rerun": "run the tests again",
    "choose": "choose the model: live or a checkpoint",
    "save": "save the report",
    "details": "details of the selected test",
    "hour(-1)": "hour of day earlier", "hour(1)": "hour of day later",
    "band(1)": "next band", "band(-1)": "previous band", "cycle_band": "cycle through the bands",
    "units": "show dB or σ", "presets": "pick a preset path", "compare": "compare with another model",
}


def key_rows(app: App, screen: Screen) -> tuple[tuple[str, str], ...]:
    """(keys, what) for every binding active on `screen`: its focused widget's, its own and
    the app's, one row per action, keys as the footer shows them."""
    rows: dict[tuple[int, str], list[str]] = {}
    about: dict[tuple[int, str], str] = {}
    for active in screen.active_bindings.values():
        b, node = active.binding, active.node
        # The screen's own keys, the keys its widgets put in the footer, and help; not
        # Textual's standard ones (page keys, tab, copy, ctrl+q).
        if node is app and b.id != "help" or node is not app and node is not screen and not b.show:
            continue
        if b.system or b.action.rsplit(".", 1)[-1] in ("focus_next", "focus_previous") or "copy" in b.action:
            continue
        k = (id(active.node), b.action)
        shown = b.key_display or app.get_key_display(b)
        if shown not in rows.setdefault(k, []):
            rows[k].append(shown)
        own = getattr(screen, "KEY_HELP", {})  # a screen's own words win over the shared ones
        about[k] = own.get(b.action) or ABOUT.get(b.action, b.description or b.action)
    return tuple((" ".join(keys), about[k]) for k, keys in rows.items())


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 96; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, keys: tuple[tuple[str, str], ...], title: str = "keys", runs_dir: str = "runs",
                 paths: dict[str, str] | None = None) -> None:
        super().__init__()
        self.keys = keys
        self.title_text = title
        self.runs_dir = runs_dir
        self.paths = paths or {}

    def compose(self) -> ComposeResult:
        t = Table(box=None, show_header=False, pad_edge=False, expand=True)
        t.add_column(style="bold yellow", no_wrap=True)
        t.add_column(ratio=1)
        for key, what in self.keys:
            t.add_row(key, what)
        with VerticalScroll() as v:
            v.border_title = f"ionis-tui · {self.title_text}"
            yield Static(t, id="help-keys")
            yield Static(Text(f"escape closes a screen. Runs are kept in {self.runs_dir}/ (one folder each, "
                         "metrics.jsonl + checkpoints). A run trains in its own process: quitting "
                         "(detach) or losing the SSH connection leaves it training, and the next ionis-tui "
                         "shows it; r then a attaches to a live run, r then s resumes a stopped one. Keys "
                         "can be remapped in [keys] of the settings."), id="help-notes")
            if self.paths:
                yield Static(Text("\n".join(f"{k}: {v}" for k, v in self.paths.items())), id="help-paths")
