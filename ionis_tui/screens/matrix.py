"""SFI x Kp matrix explorer: how one path responds to solar flux and geomagnetic storms, for the
model being trained or any checkpoint, optionally as the difference between two models.

Keys work while the matrix has focus (Esc leaves a text field and returns to it; Enter
applies a field and stays in it). Plain arrows
step hour/band, so the cell cursor moves with shift+arrows or the mouse.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Static
from textual_plotext import PlotextPlot

from engine.bands import BANDS, parse_band
from engine.checkpoint import LoadedModel, load_model
from engine.errors import IonisError
from engine.geo import parse_location
from engine.matrix import (
    MatrixDiff,
    MatrixResult,
    compute_matrix,
    difference,
    hour_curve,
    make_path,
)
from engine.matrix.facts import PathFacts
from engine.matrix.presets import PresetPath
from engine.matrix.values import check_hour, check_month
from engine.model_sources import NO_MODEL, default_checkpoint, list_checkpoints
from engine.predict import Path_
from engine.settings import Settings
from ionis_tui.screens.live import LiveModel
from ionis_tui.widgets.field_input import FieldInput
from ionis_tui.widgets.matrix_pickers import CheckpointPicker, PresetPicker
from ionis_tui.widgets.matrix_table import MatrixGrid

FIELDS = (("tx", "TX", "W3"), ("rx", "RX", "G"), ("band", "Band", "20m"),
          ("hour", "Hour", "12"), ("month", "Month", "6"))
UNIT_LABEL = {"db": "dB", "sigma": "σ"}
CELL_FMT = {"db": "{:+.1f}", "sigma": "{:+.2f}"}
WIDE_AT = 150        # columns from which the plot sits beside the matrix
LIVE_POLL_S = 2.0    # how often a live (training) model is re-read
ENDED = "ended"      # source of a model that was live when its run ended
SOURCE_TAG_A = {"live": " [live, refreshed every 2 s]", ENDED: " [run ended: its last state]"}
SOURCE_TAG_B = {"live": " [live]", ENDED: " [run ended]"}


def short(msg: str) -> str:
    """The part of an engine message before its hint ("unknown band '11m': use one of ...")."""
    return msg.split(": ")[0]


def facts_line(f: PathFacts) -> str:
    """Path facts in one 80-column line (the inputs above already name TX, RX, band, time)."""
    day = f"day {f.doy_used:g}" + (" (mid-month)" if f.day is None else "")
    return (f"{f.distance_km:,.0f} km · az {f.azimuth_deg:.0f}° · TX sun {f.tx_elevation_deg:+.0f}° "
            f"{f.tx_light} · RX sun {f.rx_elevation_deg:+.0f}° {f.rx_light} · {day}")


class _Body(VerticalScroll, inherit_bindings=False, can_focus=False):
    """Scrolls (mouse, page keys) but leaves the arrow keys to the screen."""

    BINDINGS = [Binding("pageup", "page_up", show=False), Binding("pagedown", "page_down", show=False)]


class MatrixScreen(LiveModel, Screen):
    HELP_TITLE = "matrix"  # the `?` screen's title and the README key table's row
    DEFAULT_CSS = """
    MatrixScreen #mx-header { height: 1; padding: 0 1; background: $boost; }
    MatrixScreen #mx-inputs { height: auto; }
    MatrixScreen .mx-field { width: 3fr; height: auto; padding: 0 1 0 0; }
    MatrixScreen .mx-band { width: 2fr; }
    MatrixScreen .mx-hour, MatrixScreen .mx-month { width: 2fr; }
    MatrixScreen .mx-row { height: 1; }
    MatrixScreen .mx-row Label { width: auto; padding: 0 1 0 0; }
    MatrixScreen .mx-row Input { width: 1fr; }
    /* The field being typed into must be obvious at a glance, on any palette. */
    MatrixScreen .mx-row Input:focus { background: $accent; color: $text; text-style: bold; }
    MatrixScreen .mx-row:focus-within Label { background: $accent; color: $text; text-style: bold; }
    MatrixScreen .mx-err { color: $error; height: auto; }
    MatrixScreen #mx-status { height: auto; }
    MatrixScreen #mx-status.error { color: $error; }
    MatrixScreen #mx-model, MatrixScreen #mx-facts { height: auto; color: $text-muted; }
    MatrixScreen #mx-main { height: auto; layout: vertical; }
    MatrixScreen.wide #mx-main { layout: horizontal; }
    MatrixScreen #mx-left { height: auto; width: 100%; }
    MatrixScreen.wide #mx-left { width: auto; min-width: 78; padding: 0 2 0 0; }
    MatrixScreen #mx-right { height: auto; width: 100%; }
    MatrixScreen.wide #mx-right { width: 1fr; }
    MatrixScreen #mx-title { height: 1; text-style: bold; }
    MatrixScreen #mx-violations { height: auto; }
    MatrixScreen #mx-cell { height: auto; }
    MatrixScreen #mx-plot { height: 12; }
    MatrixScreen.wide #mx-plot { height: 24; }
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("left", "hour(-1)", "Hour", key_display="←→[]"),
        Binding("right", "hour(1)", "Hour+", show=False),
        Binding("left_square_bracket", "hour(-1)", "Hour-", show=False),
        Binding("right_square_bracket", "hour(1)", "Hour+", show=False),
        Binding("up", "band(1)", "Band", key_display="↑↓b"),
        Binding("down", "band(-1)", "Band-", show=False),
        Binding("b", "cycle_band", "Band cycle", show=False),
        Binding("u", "units", "dB/σ"),
        Binding("l", "presets", "Path"),
        Binding("o", "open", "Model"),
        Binding("d", "compare", "Diff"),
    ]

    KEY_HELP = {"open": "choose the model (A): live or a checkpoint"}

    def __init__(self, settings: Settings, live_model: Callable[[], LoadedModel | None] = lambda: None,
                 checkpoint: Path | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.live_model = live_model
        self.checkpoint = checkpoint
        self.units = "db"
        self.model_a: LoadedModel | None = None
        self.model_b: LoadedModel | None = None
        self.source_a: str | None = None     # "live" or a file path
        self.source_b: str | None = None
        self.path: Path_ | None = None       # last valid inputs
        self.result: MatrixResult | None = None
        self.diff: MatrixDiff | None = None
        self._fields_seen: tuple[str, ...] | None = None

    # ----- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # The same one-line header band as the dashboard and verify (not Textual's Header).
        yield Static(Text("IONIS · SFI x Kp matrix", "bold"), id="mx-header")
        with _Body(id="mx-body"):
            with Horizontal(id="mx-inputs"):
                for key, label, default in FIELDS:
                    with Vertical(classes=f"mx-field mx-{key}"):
                        with Horizontal(classes="mx-row"):
                            yield Label(label)
                            yield FieldInput(value=default, id=f"in-{key}", compact=True)
                        yield Static("", id=f"err-{key}", classes="mx-err")
            yield Static("", id="mx-status")
            yield Static("", id="mx-model")
            yield Static("", id="mx-facts")
            with Vertical(id="mx-main"):
                with Vertical(id="mx-left"):
                    yield Static("", id="mx-title")
                    yield MatrixGrid(id="mx-table")
                    yield Static("", id="mx-violations")
                with Vertical(id="mx-right"):
                    yield Static("", id="mx-cell")
                    yield PlotextPlot(id="mx-plot")
        # No palette entry in this footer: every key of the screen must fit in 80 columns.
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.title = "IONIS · SFI x Kp matrix"
        self._layout(self.app.size.width)
        self._pick_default_model()
        self.recompute()
        self.query_one(MatrixGrid).focus()
        self.set_interval(LIVE_POLL_S, self._poll_live)

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        self.set_class(width >= WIDE_AT, "wide")

    # ----- models -------------------------------------------------------------------------
    # A live model is a snapshot that waits for the training step's lock, and a checkpoint is
    # a file read: both happen in thread workers, so the keys never wait on training or disk.
    def _pick_default_model(self) -> None:
        """Live model, else the given checkpoint, else newest run's best, else published V22."""
        self._fetch_model("a", "default", quiet=True)

    def _read_model(self, value: str) -> tuple[str | None, LoadedModel | None, str]:
        """(source, model, error) for a picker value or "default"; runs in a worker thread."""
        if value in ("live", "default"):
            lm, error = self._live_or_error()
            if lm is not None or value == "live":
                return "live", lm, error or ("" if lm else "no live model: no training run is in progress")
            path = default_checkpoint(self.settings.runs.dir, self.checkpoint)
            if path is None:
                return None, None, NO_MODEL
            value = str(path)
        try:
            return value, load_model(value), ""
        except IonisError as exc:
            return value, None, str(exc)

    @work(thread=True, group="mx-model")
    def _fetch_model(self, which: str, value: str, quiet: bool = False) -> None:
        source, lm, error = self._read_model(value)
        self._hand_over(self._use_model, which, source, lm, error, quiet)

    def _hand_over(self, callback: Callable[..., None], *args) -> None:
        """Run callback on the event loop, unless the app or this screen has gone meanwhile."""
        if self.app.is_running:
            self.app.call_from_thread(lambda: callback(*args) if self.is_attached else None)

    def _use_model(self, which: str, source: str | None, lm: LoadedModel | None, error: str,
                   quiet: bool) -> None:
        if lm is None:
            self._status(error, error=True)
            return
        setattr(self, f"model_{which}", lm)
        setattr(self, f"source_{which}", source)
        if which == "b":
            self._status(f"compare: A - B with B = {lm.label}")
        elif not quiet:
            self._status(f"showing {lm.label}")
        self.recompute()

    def _load_a(self, value: str | None) -> None:
        if value is not None:
            self._fetch_model("a", value)

    def _load_b(self, value: str | None) -> None:
        if value is None:
            return
        if value == "off":
            self.model_b = self.source_b = None
            self.diff = None
            self._status("compare mode off")
            self.recompute()
            return
        self._fetch_model("b", value)

    def _poll_live(self) -> None:
        """A model in training changes under us: re-read it (in a worker) and redraw."""
        if "live" in (self.source_a, self.source_b):
            self._fetch_live()

    @work(thread=True, exclusive=True, group="mx-live")
    def _fetch_live(self) -> None:
        lm, error = self._live_or_error()
        if lm is not None:
            self._hand_over(self._use_live, lm)
        elif not error:  # the run has ended: its last state stays on screen, labelled so
            self._hand_over(self._live_ended)

    def _live_ended(self) -> None:
        for which in ("a", "b"):
            if getattr(self, f"source_{which}") == "live":
                setattr(self, f"source_{which}", ENDED)
        self._status("the training run has ended: showing its last state; o opens its checkpoints")
        self._draw()

    def _use_live(self, lm: LoadedModel) -> None:
        for which in ("a", "b"):
            if getattr(self, f"source_{which}") == "live":
                setattr(self, f"model_{which}", lm)
        self.recompute()

    def _choices(self, compare: bool) -> list[tuple[str, str]]:
        """Picker entries; runs in a worker (the live probe waits for the training lock)."""
        out: list[tuple[str, str]] = []
        if compare and self.model_b is not None:
            out.append(("compare off", "off"))
        if self._live_or_error()[0] is not None:
            out.append(("live model (training run in progress)", "live"))
        out += [(str(p), str(p)) for p in list_checkpoints(self.settings.runs.dir)]
        return out

    @work(thread=True, group="mx-choices")
    def _offer_models(self, compare: bool) -> None:
        self._hand_over(self._show_picker, compare, self._choices(compare))

    def _show_picker(self, compare: bool, choices: list[tuple[str, str]]) -> None:
        if compare:
            self.app.push_screen(CheckpointPicker("Compare with (B): the matrix shows A - B", choices),
                                 self._load_b)
        else:
            self.app.push_screen(CheckpointPicker("Model to explore (A)", choices), self._load_a)

    # ----- inputs -------------------------------------------------------------------------
    def _text(self, key: str) -> str:
        return self.query_one(f"#in-{key}", Input).value

    def _set_text(self, key: str, value: str) -> None:
        self.query_one(f"#in-{key}", Input).value = value

    def _read_path(self) -> Path_ | None:
        """Check every field, show each problem next to its field; None if any is bad."""
        checks = {"tx": parse_location, "rx": parse_location, "band": parse_band,
                  "hour": check_hour, "month": check_month}
        ok = True
        for key, check in checks.items():
            msg = ""
            try:
                check(self._text(key))
            except IonisError as exc:
                msg, ok = short(str(exc)), False
            self.query_one(f"#err-{key}", Static).update(msg)
        if not ok:
            self._status("input error: the matrix shows the last valid inputs", error=True)
            return None
        try:
            return make_path(self._text("tx"), self._text("rx"), self._text("band"),
                             self._text("hour"), self._text("month"))
        except IonisError as exc:
            self._status(str(exc), error=True)
            return None

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        seen = tuple(self._text(k) for k, _, _ in FIELDS)
        if seen != self._fields_seen:
            self.recompute()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        # Enter applies the field and stays in it (escape goes back to the matrix keys).
        event.stop()
        if tuple(self._text(k) for k, _, _ in FIELDS) != self._fields_seen:
            self.recompute()

    # ----- computing and drawing ----------------------------------------------------------
    def _status(self, text: str, error: bool = False) -> None:
        st = self.query_one("#mx-status", Static)
        st.update(Text(text))
        st.set_class(error, "error")

    def recompute(self) -> None:
        self._fields_seen = tuple(self._text(k) for k, _, _ in FIELDS)
        path = self._read_path()
        if path is None:
            return
        was_error = self.query_one("#mx-status", Static).has_class("error")
        self.path = path
        if self.model_a is None:
            self._draw()
            return
        try:
            self.result = compute_matrix(self.model_a, path)
            self.diff = (difference(self.result, compute_matrix(self.model_b, path))
                         if self.model_b is not None else None)
        except IonisError as exc:
            self._status(str(exc), error=True)
            return
        if was_error:
            self._status("")
        self._draw()

    def _draw(self) -> None:
        r, d, u = self.result, self.diff, self.units
        model = self.query_one("#mx-model", Static)
        if self.model_a is None or r is None:
            model.update("model: none (press o to choose a checkpoint)")
            return
        live = SOURCE_TAG_A.get(self.source_a or "", "")
        if d is not None:
            live_b = SOURCE_TAG_B.get(self.source_b or "", "")
            model.update(Text(f"A: {r.model}{live}\nB: {d.b.model}{live_b}"))
        else:
            model.update(Text(f"model: {r.model}{live}"))
        self.query_one("#mx-facts", Static).update(Text(facts_line(r.facts)))
        grid = self.query_one(MatrixGrid)
        if d is not None:
            self.query_one("#mx-title", Static).update(
                f"A - B ({UNIT_LABEL[u]}): rows SFI, columns Kp · " + (
                    "+ = A stronger, - = B stronger" if self.app.no_color else "red = A stronger, blue = B stronger"))
            grid.show(r.sfi, r.kp, d.values(u), CELL_FMT[u], centred=True)
        else:
            self.query_one("#mx-title", Static).update(
                f"SNR ({UNIT_LABEL[u]}): rows SFI, columns Kp · " + (
                    # NO_COLOR greys the diverging palette: both ends come out dark, so the
                    # shade cannot tell low from high; say so rather than name colours.
                    "shade: darker = further from the middle" if self.app.no_color else "blue low .. red high"))
            marked = {tuple(c) for v in r.violations for c in v["cells"]}
            grid.show(r.sfi, r.kp, r.values(u), CELL_FMT[u], marked=marked)
        self._draw_violations()
        self._draw_cell()

    def _draw_violations(self) -> None:
        out = Text()
        models = [("A: ", self.result)] + ([("B: ", self.diff.b)] if self.diff else [])
        for prefix, r in models:
            if r is None:
                continue
            tag = prefix if self.diff else ""
            if not r.violations:
                out.append(f"{tag}monotonic: no violations (tolerance {r.tolerance:g} σ)\n", "green")
                continue
            out.append(f"{tag}{len(r.violations)} monotonicity violation(s) "
                       f"(tolerance {r.tolerance:g} σ):\n", "bold red")
            for v in r.violations[:4]:
                out.append(f"  {v['message']}\n", "red")
            if len(r.violations) > 4:
                out.append(f"  ... and {len(r.violations) - 4} more\n", "red")
        out.rstrip()
        self.query_one("#mx-violations", Static).update(out)

    def _selected(self) -> tuple[int, int]:
        sel = self.query_one(MatrixGrid).selected
        return sel if sel is not None else (0, 0)

    def _draw_cell(self) -> None:
        r = self.result
        if r is None:
            return
        i, j = self._selected()
        a = r.cell(i, j)
        b = self.diff.b.cell(i, j) if self.diff else None
        t = Table(box=None, padding=(0, 1), show_header=True, header_style="bold")
        t.add_column("")
        t.add_column("A" if b else "value", justify="right")
        if b:
            t.add_column("B", justify="right")
            t.add_column("A - B", justify="right")

        def row(name: str, key: str, fmt: str = "{:+.3f}") -> None:
            cells = [fmt.format(a[key])]
            if b:
                cells += [fmt.format(b[key]), fmt.format(a[key] - b[key])]
            t.add_row(name, *cells)

        row("SNR dB", "db", "{:+.2f}")
        row("SNR σ", "sigma")
        row("base", "base")
        row("sun: gate", "sun_gate", "{:.3f}")
        row("  × sidecar", "sun_sidecar")
        row("  = sun term", "sun")
        row("storm: gate", "storm_gate", "{:.3f}")
        row("  × sidecar", "storm_sidecar")
        row("  = storm term", "storm")
        title = Text(f"SFI {a['sfi']:g}, Kp {a['kp']:g}: decomposition (σ unless stated)", "bold")
        self.query_one("#mx-cell", Static).update(Group(title, t))
        self._draw_plot(a["sfi"], a["kp"])

    def _draw_plot(self, sfi: float, kp: float) -> None:
        if self.path is None or self.model_a is None:
            return
        u = self.units
        widget = self.query_one(PlotextPlot)
        plt = widget.plt
        plt.clear_figure()
        a = hour_curve(self.model_a, self.path, sfi, kp)
        hours = [int(h) for h in a.hours]
        plt.plot(hours, a.values(u).tolist(), label="A" if self.model_b else None, marker="braille")
        if self.model_b is not None:
            b = hour_curve(self.model_b, self.path, sfi, kp)
            plt.plot(hours, b.values(u).tolist(), label="B", marker="braille")
        plt.vline(self.path.hour)
        plt.xticks([0, 6, 12, 18, 23])
        plt.title(f"24 h at SFI {sfi:g}, Kp {kp:g} ({UNIT_LABEL[u]}); line = {self.path.hour:g}z")
        widget.refresh()

    def on_data_table_cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        event.stop()
        self._draw_cell()

    # ----- actions ------------------------------------------------------------------------
    def action_back(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one(MatrixGrid).focus()
        else:
            self.app.pop_screen()

    def action_hour(self, step: int) -> None:
        base = self.path.hour if self.path is not None else 12.0
        self._set_text("hour", f"{(int(base) + step) % 24}")
        self.recompute()

    def _band_index(self) -> int:
        if self.path is None:
            return [b.name for b in BANDS].index("20m")
        return [b.id for b in BANDS].index(self.path.band.id)

    def action_band(self, step: int) -> None:
        """up = next higher band (shorter wavelength), down = lower; stops at 160m and 10m."""
        i = min(max(self._band_index() + step, 0), len(BANDS) - 1)
        self._set_text("band", BANDS[i].name)
        self.recompute()

    def action_cycle_band(self) -> None:
        self._set_text("band", BANDS[(self._band_index() + 1) % len(BANDS)].name)
        self.recompute()

    def action_units(self) -> None:
        self.units = "sigma" if self.units == "db" else "db"
        self._draw()

    def action_presets(self) -> None:
        def chosen(p: PresetPath | None) -> None:
            if p is not None:
                self._set_text("tx", p.tx)
                self._set_text("rx", p.rx)
                self.recompute()
        self.app.push_screen(PresetPicker(), chosen)

    def action_open(self) -> None:
        self._offer_models(False)

    def action_compare(self) -> None:
        self._offer_models(True)
