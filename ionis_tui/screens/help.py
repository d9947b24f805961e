"""The `?` screen: every key of the dashboard, what it does, and where runs are kept."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("s", "start a new training run (on the runs screen: resume the selected run)"),
    ("p", "pause / resume the run (pauses between steps; nothing is lost)"),
    ("x", "stop the run (asks first); a checkpoint is saved so it can be resumed"),
    ("c", "save a checkpoint now"),
    ("r", "runs: every run with its date, epochs, best Pearson/RMSE and state"),
    ("v", "verification tests on the live model (or a checkpoint)"),
    ("m", "SFI x Kp matrix on the live model (or a checkpoint)"),
    ("d", "seed demo data (offered when the embedded database is empty)"),
    ("b", "build signatures from ingested spots (`ionis-tui data ingest`)"),

    ("i", "import the IONIS signature bundle (from ionis-download's place); i again cancels"),
    ("g", "check the database again (after fixing a setting)"),
    ("q", "quit; with a run active: detach (it keeps training), stop (checkpoint first) or cancel"),
    ("?", "this help;  escape closes a screen"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 96; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, runs_dir: str = "runs", paths: dict[str, str] | None = None) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.paths = paths or {}

    def compose(self) -> ComposeResult:
        t = Table(box=None, show_header=False, pad_edge=False, expand=True)
        t.add_column(style="bold yellow", width=3)
        t.add_column(ratio=1)
        for key, what in KEYS:
            t.add_row(key, what)
        with VerticalScroll() as v:
            v.border_title = "ionis-tui keys"
            yield Static(t, id="help-keys")
            yield Static(f"Runs are kept in {self.runs_dir}/ (one folder each, metrics.jsonl + checkpoints). "
                         "A run trains in its own process: quitting (detach) or losing the SSH "
                         "connection leaves it training, and the next ionis-tui shows it; r then a "
                         "attaches to a live run, r then s resumes a stopped one.", id="help-notes")
            if self.paths:
                yield Static("\n".join(f"{k}: {v}" for k, v in self.paths.items()), id="help-paths")
