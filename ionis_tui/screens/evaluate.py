"""Evaluate screen: the model's skill on the real spots of settings [evaluate]: the per-band
table (model and baselines), predicted vs observed, and the mean residual by UTC hour.
Opened from the verify screen (e) with the model it shows; w saves the report."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from engine.checkpoint import LoadedModel
from engine.errors import IonisError
from engine.settings import Settings

MAX_POINTS = 4000  # scatter points drawn (an even subsample beyond this: a terminal has few cells)


class EvaluateScreen(Screen):
    HELP_TITLE = "evaluate"  # the `?` screen's title and the README key table's row
    BINDINGS = [
        Binding("escape", "app.pop_screen", "back"),
        Binding("g", "level", "spots/signatures"),
        Binding("w", "save", "save report"),
    ]
    DEFAULT_CSS = """
    EvaluateScreen #ev-head { height: 2; padding: 0 1; background: $boost; }
    EvaluateScreen #ev-table { height: 9; }
    EvaluateScreen #ev-plots { height: 1fr; }
    EvaluateScreen PlotextPlot { width: 1fr; }
    EvaluateScreen #ev-status { height: 1; padding: 0 1; }
    EvaluateScreen #ev-status.error { color: $error; }
    """

    def __init__(self, settings: Settings, model: Callable[[], LoadedModel], name: str,
                 stem: str = "model"):
        super().__init__()
        self.settings = settings
        self.model = model        # called in the worker thread: loads or returns a CPU snapshot
        self.model_name = name    # shown as given
        self.stem = stem          # the saved report's name part: from the file, never the display
        self.evaluation = None    # engine.evaluate.run.Evaluation once computed
        self.level = "spots"
        self.finished = False

    def compose(self) -> ComposeResult:
        yield Static(f"evaluating {self.model_name} …", id="ev-head")
        yield DataTable(id="ev-table", cursor_type="row", zebra_stripes=False)
        with Horizontal(id="ev-plots"):
            yield PlotextPlot(id="ev-scatter")
            yield PlotextPlot(id="ev-hours")
        yield Static("", id="ev-status")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.title = "IONIS · evaluate"
        t = self.query_one(DataTable)
        for name, width in (("band", 8), ("n", 6), ("r", 6), ("RMSE", 6), ("skill a", 7),
                            ("skill b", 7), ("skill c", 7)):
            t.add_column(name, width=width, key=name)
        self.query_one(DataTable).loading = True
        self.run_worker(self._work, thread=True, group="evaluate", exit_on_error=False)

    def _work(self) -> None:
        from engine.evaluate.source import skill_source

        try:
            source = skill_source(self.settings, levels=("spots", "signatures"))
            result = source if isinstance(source, str) else source(self.model())
        except IonisError as exc:
            result = str(exc)
        except Exception as exc:  # shown, never a crash of the app
            result = f"{type(exc).__name__}: {exc}"
        if get_current_worker().is_cancelled:
            return
        try:
            self.app.call_from_thread(self._show, result)
        except RuntimeError:  # the app shut down meanwhile
            pass

    def _status(self, text: str, error: bool = False) -> None:
        s = self.query_one("#ev-status", Static)
        s.update(Text(text))  # plain text: "[evaluate]" is not markup
        s.set_class(error, "error")

    def _show(self, result) -> None:
        self.finished = True
        self.query_one(DataTable).loading = False
        if isinstance(result, str):
            self.query_one("#ev-head", Static).update(f"model: {self.model_name}")
            self._status(f"n/a: {result}", error=True)
            return
        self.evaluation = result
        self.level = next(iter(result.levels))
        self._draw()

    def _draw(self) -> None:
        from engine.evaluate.report import band_rows, table_rows

        ev = self.evaluation
        rep, level = ev.report, ev.levels[self.level]
        summary = rep["levels"][self.level]
        rows = rep["rows"]
        self.query_one("#ev-head", Static).update(
            f"{self.model_name} on {Path(rep['source']).name} · {self.level} · "
            f"{summary['n']:,} rows (of {rows['read']:,} read)\nbaselines: a band mean · b band clim. · "
            f"c band+hour clim.{'' if rep['climatology'] == 'training table' else ' (b, c n/a: no training table)'}")
        t = self.query_one(DataTable)
        t.clear()
        overall = {r[0]: r for r in table_rows(summary["overall"])}
        m = overall.get("model")
        if m is not None:
            skills = [overall[k][6] if k in overall else "-" for k in
                      ("(a) band mean", "(b) band clim.", "(c) band+hour clim.")]
            t.add_row(Text("all", style="bold"), m[1], m[2], m[3], *skills, key="all")
        for r in band_rows(summary):
            t.add_row(*r, key=r[0])
        self._plots(level)
        self._status(self._verdict(summary))

    @staticmethod
    def _verdict(summary: dict) -> str:
        if "na" in summary["overall"]:  # too few rows to grade (the count is in the text)
            return f"n/a: {summary['overall']['na']}"
        m = summary["overall"]["model"]
        a = summary["overall"]["baselines"]["band_mean"]
        word = "beats" if (a.get("skill") or 0) > 0.01 else "does not beat"
        return (f"model RMSE {m['rmse_db']:.2f} dB, r {m['pearson'] or 0:+.3f}: {word} the band mean "
                f"({a['rmse_db']:.2f} dB)")

    def _plots(self, level) -> None:
        sc = self.query_one("#ev-scatter", PlotextPlot)
        plt = sc.plt
        plt.clear_figure()
        step = max(1, len(level.pred) // MAX_POINTS)
        plt.scatter(level.obs[::step].tolist(), level.pred[::step].tolist(), marker="braille")
        lo, hi = float(np.min(level.obs)), float(np.max(level.obs))
        plt.plot([lo, hi], [lo, hi], marker="braille")  # the 1:1 line
        plt.title("predicted vs observed (dB)")
        sc.refresh()
        hr = self.query_one("#ev-hours", PlotextPlot)
        plt = hr.plt
        plt.clear_figure()
        res = self.evaluation.report["levels"][self.level]["residual_by_hour"]
        plt.bar([r["hour"] for r in res], [r["bias_db"] for r in res])
        plt.title("mean residual (pred - obs) by UTC hour, dB")
        hr.refresh()

    def action_level(self) -> None:
        if self.evaluation is None:
            return
        names = list(self.evaluation.levels)
        self.level = names[(names.index(self.level) + 1) % len(names)]
        if "na" in self.evaluation.report["levels"][self.level]:
            self._status(f"{self.level}: n/a: {self.evaluation.report['levels'][self.level]['na']}")
            return
        self._draw()

    def action_save(self) -> None:
        from engine.evaluate.report import write_report

        if self.evaluation is None:
            self.notify("nothing to save: the evaluation has not finished", severity="warning")
            return
        stem = self.stem.replace(" ", "_") or "model"
        base = Path(self.settings.runs.dir) / "evaluate" / f"evaluate-{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        try:
            md = write_report(self.evaluation.report, base.with_suffix(".md"))
            write_report(self.evaluation.report, base.with_suffix(".json"))
        except IonisError as exc:
            self._status(str(exc), error=True)
            return
        self._status(f"saved {md} and .json")
        self.notify(f"report saved: {md}")
