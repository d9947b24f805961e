"""Per-epoch curves drawn with plotext: losses, validation quality, sidecar fc2.bias."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from textual_plotext import PlotextPlot


@dataclass(frozen=True)
class Series:
    key: str              # metrics.jsonl key
    label: str
    color: str
    right: bool = False   # second y axis, for a quantity on another scale
    old_key: str = ""     # read where a line lacks `key` (metrics of older runs)

    def value(self, r: dict[str, Any]) -> Any:
        return r[self.key] if self.key in r else r.get(self.old_key)


class MetricPlot(PlotextPlot):
    """One plot of a few metrics against epoch; redrawn only when the history grows."""

    DEFAULT_CSS = """
    MetricPlot { border: round $primary 50%; border-title-color: $text-muted; min-height: 8; }
    """

    def __init__(self, title: str, series: tuple[Series, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self.series = series
        self.border_title = title
        self._drawn: tuple[int, Any] = (-1, None)
        self._render_key: tuple = ()
        self._rendered: Any = None

    def on_mount(self) -> None:
        super().on_mount()
        self.show([])

    def render(self):
        # PlotextPlot rebuilds the whole figure on every render, and a screen shown on top
        # (help, confirm) re-renders everything beneath it; the figure only changes with
        # the data, the size or the theme, so keep the last one.
        key = (self.size, self._drawn, self.app.theme, self.theme)
        if key != self._render_key:
            self._render_key = key
            self._rendered = super().render()
        return self._rendered

    def show(self, history: list[dict[str, Any]]) -> None:
        key = (len(history), history[-1].get("epoch") if history else None)
        if key == self._drawn:
            return
        self._drawn = key
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plotted = False
        for s in self.series:
            pts = [(r["epoch"], float(s.value(r))) for r in history
                   if _finite(s.value(r)) and r.get("epoch") is not None]
            if not pts:
                continue
            xs, ys = zip(*pts, strict=True)
            plt.plot(list(xs), list(ys), label=s.label, color=s.color, marker="braille",
                     yside="right" if s.right else "left")
            plotted = True
        self.border_subtitle = "" if plotted else "no epochs yet"
        plt.xlabel("epoch")
        self.refresh()


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def loss_plot(**kw) -> MetricPlot:
    # Train against validation on the same loss: the training objective (val_objective; older
    # runs logged it as val_loss), so a floor-aware loss does not look like overfitting.
    return MetricPlot("loss (Huber, sigma)", (Series("train_loss", "train", "cyan"),
                                             Series("val_objective", "val", "orange", old_key="val_loss")), **kw)


def quality_plot(**kw) -> MetricPlot:
    return MetricPlot("val Pearson · RMSE dB (right)",
                      (Series("val_pearson", "Pearson", "green"),
                       Series("val_rmse_db", "RMSE dB", "magenta", right=True)), **kw)


def bias_plot(**kw) -> MetricPlot:
    return MetricPlot("sidecar fc2.bias", (Series("sun_fc2_bias", "sun", "yellow"),
                                           Series("storm_fc2_bias", "storm", "blue")), **kw)
