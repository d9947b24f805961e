"""The `?` screen: the keys of the screen it was opened from (as mapped by [keys]), what they
do, and where runs are kept."""

from __future__ import annotations

from dataclasses import replace

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
    "cursor_up": "select the cell above", "cursor_down": "select the cell below",
    "cursor_left": "select the cell to the left", "cursor_right": "select the cell to the right",
    "select_cursor": "show the selected cell's terms and 24-hour curve",
    "page_up": "scroll up a page", "page_down": "scroll down a page",
    "level": "switch between spots and signatures", "evaluate": "skill on real spots for this model",
    "dismiss": "close", "cancel": "cancel",
}


def declared_here(node: object, binding: Binding) -> bool:
    """True when one of this project's classes in `node`'s ancestry declares `binding` (its
    key and action) in its BINDINGS, as opposed to a Textual widget's standard keys."""
    for cls in type(node).__mro__:
        if not cls.__module__.startswith("ionis_tui"):
            continue
        for d in vars(cls).get("BINDINGS", ()):
            if isinstance(d, Binding) and d.action == binding.action and \
                    binding.key in (k.strip() for k in d.key.split(",")):
                return True
    return False


def _all_bindings(screen: Screen) -> list[tuple[object, Binding]]:
    """(node, binding) for each key the screen answers, as Screen.active_bindings resolves
    them (the focused widget first, a priority binding over others), but also the keys that
    do nothing right now (check_action says no: e.g. `b` until spots are ingested), which
    active_bindings leaves out: help lists every key."""
    found: dict[str, tuple[object, Binding]] = {}
    chain = screen._modal_binding_chain  # the chain active_bindings walks
    for node, bindings in chain:
        for key, b in bindings:
            if key not in found or b.priority and not found[key][1].priority:
                found[key] = (node, b)
    nodes = [node for node, _ in chain]

    def order(item: tuple[object, Binding]) -> tuple[int, int]:
        """The screen's own keys first, then its widgets' and the app's in chain order; within
        one node, the order its class declares them (a keymap reorders the map)."""
        node, b = item
        declared = [d.action for cls in type(node).__mro__ for d in vars(cls).get("BINDINGS", ())
                    if isinstance(d, Binding)]
        rank = 0 if node is screen else 1 + nodes.index(node)
        return rank, declared.index(b.action) if b.action in declared else len(declared)

    return sorted(found.values(), key=order)


def key_rows(app: App, screen: Screen) -> tuple[tuple[str, str], ...]:
    """(keys, what) for every binding active on `screen`: its focused widget's, its own and
    the app's, one row per action, each key as the footer shows a single key (not a
    footer's combined label such as "←→[]")."""
    rows: dict[tuple[int, str], list[str]] = {}
    about: dict[tuple[int, str], str] = {}
    for node, b in _all_bindings(screen):
        # The screen's own keys, the keys its widgets declare here or put in the footer, and
        # help; not Textual's standard ones (page keys, tab, copy, ctrl+q).
        if node is app and b.id != "help" or \
                node is not app and node is not screen and not b.show and not declared_here(node, b):
            continue
        if b.system or b.action.rsplit(".", 1)[-1] in ("focus_next", "focus_previous") or "copy" in b.action:
            continue
        k = (id(node), b.action)
        shown = app.get_key_display(replace(b, key_display=None))
        if shown not in rows.setdefault(k, []):
            rows[k].append(shown)
        own = getattr(screen, "KEY_HELP", {})  # a screen's own words win over the shared ones
        about[k] = own.get(b.action) or ABOUT.get(b.action, b.description or b.action)
    return tuple((" ".join(keys), about[k]) for k, keys in rows.items())


def help_title(screen: Screen) -> str:
    """The help screen's title: the screen's HELP_TITLE, e.g. "matrix keys"."""
    return f"{getattr(screen, 'HELP_TITLE', type(screen).__name__)} keys"


class HelpScreen(ModalScreen[None]):
    HELP_TITLE = "help"
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
