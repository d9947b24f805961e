"""The per-epoch view shared by the dashboard and the run-detail screen: the loss, quality and
sidecar-bias plots beside the sidecar panel, plus whatever side widgets the screen adds.

Narrow terminals (80x24) put loss and quality side by side, hide the bias plot (the sidecar
panel shows both biases as numbers) and stack the side widgets under them; wide ones give the
plots the left three fifths. The layout lives in app.tcss (.-narrow / .-wide)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget

from ionis_tui.widgets.plots import MetricPlot, bias_plot, loss_plot, quality_plot
from ionis_tui.widgets.sidecar_panel import SidecarPanel


class MetricsView(Widget):
    DEFAULT_CSS = "MetricsView { height: auto; }"

    def __init__(self, *side: Widget, **kwargs) -> None:
        super().__init__(**kwargs)
        self._side = side

    def compose(self) -> ComposeResult:
        with Horizontal(classes="mv-plots"):
            yield loss_plot(classes="plot-loss")
            yield quality_plot(classes="plot-quality")
            yield bias_plot(classes="plot-bias")
        with Vertical(classes="mv-side"):
            yield SidecarPanel()
            yield from self._side

    def show_history(self, history: list[dict[str, Any]]) -> None:
        for plot in self.query(MetricPlot):
            plot.show(history)

    def show_sidecars(self, last: dict[str, Any]) -> None:
        self.query_one(SidecarPanel).show(last)
