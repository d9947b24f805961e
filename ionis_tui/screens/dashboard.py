"""The main screen: header, data panel, plots, sidecar and run panels, event log, keys.

Widgets are redrawn from the app's DashboardState on a 4 Hz timer, only the parts an event
marked dirty, so a burst of training events costs one frame. State changes (start, pause,
stop...) are drawn at once so keys feel immediate."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from engine.train import events as ev
from ionis_tui.dashboard_state import (
    DATA,
    HEADER,
    INFO,
    LOG,
    PLOTS,
    SIDECAR,
    DashboardState,
    DataStatus,
)
from ionis_tui.widgets.data_panel import DataPanel
from ionis_tui.widgets.event_log import EventLog
from ionis_tui.widgets.info_panel import InfoPanel
from ionis_tui.widgets.metrics_view import MetricsView
from ionis_tui.widgets.run_header import RunHeader

if TYPE_CHECKING:
    from ionis_tui.app import IonisApp

FRAME_S = 0.25  # at most 4 redraws a second


class DashboardScreen(Screen):
    HELP_TITLE = "dashboard"  # the `?` screen's title and the README key table's row
    # Below 110 columns: plots side by side over the sidecars and the log (80x24 shows them
    # all), the rest scrolls; above, plots sit left. Taller terminals give the plots more rows.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]

    # The ids are the [keys] settings' actions: the app's keymap (IonisApp.__init__) rebinds
    # them, and the footer and help then show the mapped keys.
    BINDINGS = [
        Binding("s", "start", "start", id="start"),
        Binding("p", "pause", "pause", id="pause"),
        Binding("x", "stop", "stop", id="stop"),
        Binding("c", "checkpoint", "ckpt", id="checkpoint"),
        Binding("r", "runs", "runs", id="runs"),
        Binding("v", "verify", "verify", id="verify"),
        Binding("m", "matrix", "matrix", id="matrix"),
        Binding("d", "seed", "seed", id="seed"),
        Binding("b", "build", "build", show=False, id="build"),  # the data panel offers it (80 columns)
        Binding("i", "import_bundle", "import", show=False, id="import"),  # the data panel names it
        Binding("g", "recheck", "check db", show=False, id="recheck"),
        Binding("q", "quit", "quit", id="quit"),
    ]

    _alert_text = ""

    @property
    def ionis(self) -> IonisApp:
        return cast("IonisApp", self.app)

    def compose(self) -> ComposeResult:
        yield RunHeader(id="header")
        yield Static("", id="alert", classes="-hidden")
        yield DataPanel(id="data")
        with VerticalScroll(id="body"):
            # The event log comes right under the sidecars so that at 80x24 the last events
            # are on screen; the run panel (lr, best, checkpoints) follows.
            yield MetricsView(EventLog(id="log"), InfoPanel(id="info"), id="main")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.set_interval(FRAME_S, self.draw)
        self.draw(everything=True)
        self.query_one("#body").focus()

    def on_resize(self) -> None:
        # Widths changed: the header's bar and the data panel's bar are sized to fit.
        self.draw(everything=True)

    def draw(self, everything: bool = False) -> None:
        s: DashboardState = self.ionis.state
        dirty = s.take_dirty()
        if everything:
            dirty |= {HEADER, DATA, PLOTS, SIDECAR, INFO, LOG}
        elif s.state in (ev.TRAINING, ev.PAUSED):
            dirty.add(HEADER)  # the ETA counts down between events
        if not dirty:
            return
        if HEADER in dirty:
            self.query_one(RunHeader).show(s)
            # A failed run's reason must be visible without scrolling, even at 80x24.
            alert_text = f"run failed: {s.final_message}" if s.state == ev.FAILED else ""
            if alert_text != self._alert_text:
                self._alert_text = alert_text
                alert = self.query_one("#alert", Static)
                alert.set_class(not alert_text, "-hidden")
                alert.update(Text(alert_text))
        if DATA in dirty:
            self.query_one(DataPanel).show(s.data, self.ionis.settings.demo.rows)
        if PLOTS in dirty:
            self.query_one(MetricsView).show_history(s.history)
        if SIDECAR in dirty:
            self.query_one(MetricsView).show_sidecars(s.last)
        if INFO in dirty:
            self.query_one(InfoPanel).show(s)
        if LOG in dirty:
            self.query_one(EventLog).show(s)

    # ------------------------------------------------------------------ keys
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Footer shows only the keys that make sense now (None = shown dimmed)."""
        app = self.ionis
        active = app.runner.active
        if action == "start":
            return not app.runner.running or None
        if action in ("pause", "stop", "checkpoint"):
            return active or None
        if action == "seed":
            return app.state.data.status == DataStatus.EMPTY
        if action == "build":  # from ingested spots: into an empty table or one built from spots
            d = app.state.data
            return bool(d.spots) and not app.runner.running and (
                d.status == DataStatus.EMPTY or (d.status == DataStatus.OK and d.kind == "spots"))
        if action == "recheck":
            return app.state.data.status in (DataStatus.ERROR, DataStatus.EMPTY, DataStatus.OK)
        return True

    def on_key(self, event: events.Key) -> None:
        """A key whose action does not apply now (hidden or dimmed in the footer) would be
        dropped without a word: run the action anyway, so the app answers why it cannot act
        (or keeps the key until it can, as start does during the database check)."""
        # The binding chain has the [keys] remapping applied; only this screen's own keys.
        for node, bindings in self._binding_chain:
            if node is not self:
                continue
            for binding in bindings.key_to_bindings.get(event.key, ()):
                if not binding.priority and not self.check_action(binding.action, ()):
                    event.stop()
                    event.prevent_default()
                    getattr(self, f"action_{binding.action}")()
                    return

    def action_start(self) -> None:
        self.ionis.start_run()

    def action_pause(self) -> None:
        self.ionis.toggle_pause()

    def action_stop(self) -> None:
        self.ionis.confirm_stop()

    def action_checkpoint(self) -> None:
        self.ionis.checkpoint_now()

    def action_runs(self) -> None:
        self.ionis.show_runs()

    def action_verify(self) -> None:
        self.ionis.show_tool("verify")

    def action_matrix(self) -> None:
        self.ionis.show_tool("matrix")

    def action_seed(self) -> None:
        self.ionis.seed_demo()

    def action_build(self) -> None:
        self.ionis.build_from_spots()

    def action_import_bundle(self) -> None:
        self.ionis.import_bundle()

    def action_recheck(self) -> None:
        self.ionis.check_data()

    async def action_quit(self) -> None:
        self.ionis.request_quit()
