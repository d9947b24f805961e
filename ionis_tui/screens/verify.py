"""Verification screen: the physics suite as a graded table, for the live model or a checkpoint.

The suite runs in a thread worker on a copy of the weights (engine.checkpoint.from_live, or a
file loaded from disk), so the UI and any training run carry on while it works.
Keys: r re-run · o choose model · w save Markdown + JSON · enter details · escape back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from engine.checkpoint import LoadedModel, load_model
from engine.errors import IonisError
from engine.locations import name_first
from engine.model_sources import NO_MODEL, default_checkpoint, list_checkpoints
from engine.settings import Settings
from engine.verify import load_specs, run_suite
from engine.verify.report import (
    format_value,
    group_parts,
    outcome,
    override_text,
    short_threshold,
    write_json,
    write_markdown,
)
from engine.verify.report_paths import report_paths
from engine.verify.runner import FAIL, NA, PASS, Result, SuiteReport
from engine.verify.spec import TestSpec
from ionis_tui.screens.live import LiveModel

LIVE = "live"
STYLE = {PASS: "green", FAIL: "bold red", NA: "dim"}
# Result and name first; the test's name takes what the terminal width leaves (see widths()).
COLUMNS = ("res", "gr", "test", "value", "threshold", "id")
SHORT_GROUP = {"physics": "PHYSICS", "band_time": "BAND x TIME", "ki7mt": "KI7MT", "robustness": "ROBUSTNESS",
               "sidecar": "SIDECARS", "truth": "TRUTH", "paths": "KNOWN PATHS", "skill": "SKILL (real)"}


def widths(width: int) -> dict[str, int]:
    """Column widths for a terminal `width` wide: result, grade, value and threshold keep
    theirs, the id goes below 72 columns, the name takes the rest (each column costs 2 cells
    of padding, the scrollbar 2)."""
    w = {"res": 4, "gr": 2, "value": 10, "threshold": 14, "id": 13}
    if width < 72:
        w["id"] = 0
        w["threshold"] = 11
    cols = sum(1 for v in w.values() if v) + 1
    w["test"] = max(12, width - 2 - 2 * cols - sum(w.values()))
    if width >= 120:  # room to spare: the threshold in full before the name grows further
        w["threshold"] = 24
        w["test"] -= 10
    return w


class DetailScreen(ModalScreen[None]):
    """One test's conditions, rule and explanation."""

    HELP_TITLE = "test details"

    BINDINGS = [Binding("escape", "dismiss", "close"), Binding("enter", "dismiss", "close", show=False),
                Binding("q", "dismiss", "close", show=False)]
    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen #vd-box { width: 76; max-width: 100%; height: auto; max-height: 22;
                           border: round $accent; padding: 0 1; background: $surface; }
    """

    def __init__(self, result: Result, spec: TestSpec | None) -> None:
        super().__init__()
        self.result, self.spec = result, spec

    def compose(self) -> ComposeResult:
        r = self.result
        t = Text()
        t.append(f"{r.id}  {r.name}\n", style="bold")
        t.append(f"{outcome(r)}", style=STYLE[r.status])
        t.append(f"  grade {r.grade}" if r.grade else "")
        t.append(f"  value {format_value(r)}")
        if r.value_db is not None and r.value_sigma is not None:
            t.append(f"  (= {r.value_db:+.2f} dB = {r.value_sigma:+.3f}σ)")
        t.append(f"\nthreshold: {r.threshold}\n")
        if r.override_status is not None:
            t.append(f"with the peer's override rule: {r.override_value:+.3f}σ {r.override_status.upper()}"
                     f"{f' (clamped {r.override_fired})' if r.override_fired else ' (did not fire)'}\n")
        if self.spec is not None and self.spec.why:
            t.append(f"why: {self.spec.why}\n", style="italic")
        t.append("conditions: ", style="bold")
        t.append("; ".join(f"{k}={_show(v)}" for k, v in r.conditions.items() if k != "cases"))
        if "cases" in r.conditions:
            t.append(f"; {len(r.conditions['cases'])} bad-input cases")
        t.append("\n\n")
        t.append(r.explanation)
        with VerticalScroll(id="vd-box"):
            yield Static(t, id="vd-text")


def _show(v: object) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    return f"{v:g}" if isinstance(v, float) else str(v)


class ChooseModelScreen(ModalScreen[str | None]):
    """Pick the live model, a run checkpoint or a published file, or type a path."""

    HELP_TITLE = "choose model"

    BINDINGS = [Binding("escape", "cancel", "cancel")]
    DEFAULT_CSS = """
    ChooseModelScreen { align: center middle; }
    ChooseModelScreen #vc-box { width: 76; max-width: 100%; height: auto; max-height: 22;
                                border: round $accent; padding: 0 1; background: $surface; }
    ChooseModelScreen OptionList { height: auto; max-height: 14; }
    ChooseModelScreen #vc-err { color: $error; height: auto; }
    """

    def __init__(self, choices: list[str], live: bool) -> None:
        super().__init__()
        self.choices = choices
        self.live = live

    def compose(self) -> ComposeResult:
        with Vertical(id="vc-box"):
            yield Static("Verify which model? enter picks · or type a path below")
            opts = [Option("live model (copy of the run in progress)", id=LIVE)] if self.live else []
            opts += [Option(_short(c), id=c) for c in self.choices]
            yield OptionList(*opts, id="vc-list")
            yield Input(placeholder="path to .safetensors or .pt", id="vc-path")
            yield Static("", id="vc-err")

    def on_mount(self) -> None:
        lst = self.query_one(OptionList)
        (lst if lst.option_count else self.query_one(Input)).focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    @on(Input.Submitted)
    def _typed(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not value:
            self.query_one("#vc-err", Static).update("type a checkpoint path, or escape")
            return
        p = Path(value).expanduser()
        if not p.is_file():
            self.query_one("#vc-err", Static).update(f"no such file: {p}")
            return
        self.dismiss(str(p))

    def action_cancel(self) -> None:
        self.dismiss(None)


def _short(path: str) -> str:
    return name_first(path) if path else ""


def _heading_cells(g) -> dict[str, Text]:
    """A group's header row: its name and tally in the name column, the other parts of its tally
    (grade points, gates, n/a reason...) in the columns after it, each cut to its column."""
    first, *rest = group_parts(g)
    cells = {"test": Text(f"{SHORT_GROUP[g.group]} · {first}", style="bold")}
    if first == "n/a" and rest:
        rest = ["", *rest]  # the reason gets the wider threshold column
    for col, part in zip(("value", "threshold", "id"), rest, strict=False):
        cells[col] = Text(part, style="bold")
    return cells


class VerifyScreen(LiveModel, Screen):
    HELP_TITLE = "verify"  # the `?` screen's title and the README key table's row
    BINDINGS = [
        Binding("escape", "app.pop_screen", "back"),
        Binding("r", "rerun", "re-run"),
        Binding("o", "choose", "model"),
        Binding("w", "save", "save report"),
        Binding("e", "evaluate", "evaluate"),
        Binding("enter", "details", "details", priority=True),
    ]
    DEFAULT_CSS = """
    VerifyScreen #vf-source { height: 1; padding: 0 1; background: $boost; text-wrap: nowrap;
        text-overflow: ellipsis; }
    VerifyScreen DataTable { height: 1fr; }
    VerifyScreen #vf-summary { height: auto; max-height: 4; padding: 0 1; }
    VerifyScreen #vf-summary.error { color: $error; }
    """

    def __init__(self, settings: Settings, live_model: Callable[[], LoadedModel | None] = lambda: None,
                 checkpoint: Path | None = None):
        super().__init__()
        self.settings = settings
        self.live_model = live_model
        self.checkpoint = checkpoint
        self.source: str | None = None       # LIVE or a checkpoint path
        self.report: SuiteReport | None = None
        self.report_source: str | None = None  # the source the shown report came from
        self.live_label = ""
        self.specs: list[TestSpec] = []
        self._token = 0                      # results of a superseded run are dropped
        self.running = False
        self.worker_done = threading.Event()  # set when the suite's thread has finished its work
        self._widths: dict[str, int] = {}

    # ----- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", id="vf-source")
        yield DataTable(id="vf-table", cursor_type="row", zebra_stripes=False)
        yield Static("", id="vf-summary")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.title = "IONIS · verify"
        self._columns(self.app.size.width)
        try:
            self.specs = load_specs()
        except IonisError as exc:
            self._status(f"test file: {exc}", error=True)
            return
        self.source = self._default_source()
        if self.source is None:
            self._status(NO_MODEL, error=True)
            return
        self.query_one(DataTable).focus()
        self.action_rerun()

    def on_resize(self, event: events.Resize) -> None:
        if self._columns(event.size.width) and self.report is not None and self.report_source:
            self._show(self._token, self.report_source, self.report)

    def _columns(self, width: int) -> bool:
        """(Re)build the columns for this width; True if they changed."""
        w = widths(width)
        if w == self._widths:
            return False
        self._widths = w
        t = self.query_one(DataTable)
        t.clear(columns=True)
        for name in COLUMNS:
            if w.get(name):
                t.add_column(name, width=w[name], key=name)
        return True

    def _default_source(self) -> str | None:
        """Live model, else the given checkpoint, else newest run's best, else published V22."""
        if self._live() is not None:
            return LIVE
        if self.checkpoint is not None:
            return str(self.checkpoint)
        p = default_checkpoint(self.settings.runs.dir)
        return str(p) if p else None

    def _status(self, text: str, error: bool = False) -> None:
        s = self.query_one("#vf-summary", Static)
        s.update(Text(text))  # plain text: "[evaluate] spots" in a reason is not markup
        s.set_class(error, "error")

    # ----- running --------------------------------------------------------------------------
    def action_rerun(self) -> None:
        if self.source is None:
            self._status("no model chosen: press o", error=True)
            return
        self._token += 1
        self.running = True
        self.worker_done.clear()
        self.query_one(DataTable).loading = True
        self.query_one("#vf-source", Static).update(f"verifying {self._source_text()} …")
        self.run_worker(lambda t=self._token, s=self.source: self._work(t, s),
                        thread=True, group="verify", exit_on_error=False)

    def _live_for_suite(self, token: int) -> LoadedModel:
        """The live snapshot, taken in the worker: it waits for the training step's lock, which
        the UI thread must never do. Its label goes to the screen before the suite runs."""
        live, error = self._live_or_error()
        if live is None:
            raise IonisError(error or "no live model: no training run is in progress (press o)")
        self._deliver(self._set_live_label, token, live.label)
        return live

    def _set_live_label(self, token: int, label: str) -> None:
        if self._current(token):
            self.live_label = label
            self.query_one("#vf-source", Static).update(f"verifying {self._source_text()} …")

    def _work(self, token: int, source: str) -> None:
        try:
            lm = self._live_for_suite(token) if source == LIVE else load_model(source)
            from engine.evaluate.source import skill_source  # the skill group's real spots

            report = run_suite(lm, self.specs, skill=skill_source(self.settings))
        except IonisError as exc:
            self._deliver(self._failed, token, str(exc))
            return
        except Exception as exc:  # shown, never a crash of the app
            self._deliver(self._failed, token, f"{type(exc).__name__}: {exc}")
            return
        finally:
            self.worker_done.set()
        self._deliver(self._show, token, source, report)

    def _deliver(self, fn: Callable[..., None], *args: object) -> None:
        """Hand a result to the UI thread, unless the screen was closed meanwhile."""
        if get_current_worker().is_cancelled:
            return
        try:
            self.app.call_from_thread(fn, *args)
        except RuntimeError:  # the app shut down while the suite ran
            pass

    def _current(self, token: int) -> bool:
        return token == self._token and self.is_attached

    def _failed(self, token: int, message: str) -> None:
        if not self._current(token):
            return
        self.running = False
        self.query_one(DataTable).loading = False
        self.query_one("#vf-source", Static).update(f"model: {self._source_text()}")
        self._status(message, error=True)

    def _source_text(self) -> str:
        if self.source == LIVE:
            return f"live model {self.live_label}".strip()
        return _short(self.source or "")

    def _show(self, token: int, source: str, report: SuiteReport) -> None:
        if not self._current(token):
            return
        self.running = False
        self.report, self.report_source = report, source
        t = self.query_one(DataTable)
        t.loading = False
        t.clear()
        for g in report.groups:
            t.add_row(*self._fit(_heading_cells(g)), key=f"group:{g.group}")
            for r in (x for x in report.results if x.group == g.group):
                style = STYLE[r.status]
                thr = short_threshold(r) + (f" {override_text(r)}" if r.override_status else "")
                cells = {"res": Text(outcome(r), style=style), "gr": Text(r.grade or "", style=style),
                         "test": r.name, "value": format_value(r), "threshold": thr,
                         "id": Text(r.id, style="dim")}
                t.add_row(*self._fit(cells), key=r.id)
        when = time.strftime("%H:%M:%S")
        self.query_one("#vf-source", Static).update(
            f"model: {self._source_text()} · {report.seconds:.2f} s at {when}")
        self._status(("ALL PASS · " if report.all_passed else "") + report.summary_line())
        if t.row_count > 1:
            t.move_cursor(row=1, scroll=False)  # row 1 is on screen; a scroll would race the layout

    def _fit(self, cells: dict[str, str | Text]) -> list[Text]:
        """The row's cells for the shown columns, each cut to its column with an ellipsis
        (a DataTable cell would be cut without one)."""
        out = []
        for c in COLUMNS:
            if self._widths.get(c):
                cell = cells.get(c, "")
                text = cell.copy() if isinstance(cell, Text) else Text(cell)
                text.truncate(self._widths[c], overflow="ellipsis")
                out.append(text)
        return out

    # ----- details, model choice, saving ----------------------------------------------------
    def action_details(self) -> None:
        t = self.query_one(DataTable)
        if self.report is None or not t.row_count:
            return
        key = t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value
        result = next((r for r in self.report.results if r.id == key), None)
        if result is None:  # a group header row
            return
        spec = next((s for s in self.specs if s.id == key), None)
        self.app.push_screen(DetailScreen(result, spec))

    def action_choose(self) -> None:
        found = list_checkpoints(self.settings.runs.dir)
        if self.checkpoint is not None:
            found.insert(0, Path(self.checkpoint))
        files, seen = [], set()
        for p in found:  # the same file may be reached by two spellings
            if p.resolve() not in seen:
                seen.add(p.resolve())
                files.append(str(p))

        def chosen(value: str | None) -> None:
            if value:
                self.source = value
                self.action_rerun()

        self.app.push_screen(ChooseModelScreen(files, self._live() is not None), chosen)

    def action_evaluate(self) -> None:
        """Skill on real spots for the model shown here (settings [evaluate])."""
        from ionis_tui.screens.evaluate import EvaluateScreen

        if self.source is None:
            self._status("no model chosen: press o", error=True)
            return
        if self.source == LIVE:
            live = self._live()
            if live is None:
                self._status("no live model: no training run is in progress (press o)", error=True)
                return
            self.app.push_screen(EvaluateScreen(self.settings, lambda: live, live.label, "live"))
            return
        src = self.source
        self.app.push_screen(EvaluateScreen(self.settings, lambda: load_model(src), _short(src),
                                                Path(src).stem))

    def action_save(self) -> None:
        if self.report is None:
            self.notify("nothing to save yet: the suite has not finished", severity="warning")
            return
        src = self.report_source
        run_id = self.live_label.split(" ")[0] if src == LIVE and self.live_label else None
        md, js = report_paths(None if src == LIVE else Path(src or ""), self.settings.runs.dir, run_id=run_id)
        try:
            write_markdown(self.report, md)
            write_json(self.report, js)
        except IonisError as exc:
            self._status(str(exc), error=True)
            return
        self._status(f"saved {_short(str(md))} and .json")
        self.notify(f"report saved: {md} and {js.name}")
