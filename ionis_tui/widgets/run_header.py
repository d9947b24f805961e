"""The dashboard's header lines: state, run, device, data source, progress, speed and time."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.train import events as ev
from ionis_tui import fmt
from ionis_tui.dashboard_state import DashboardState

STATE_STYLE = {
    ev.IDLE: "dim", ev.LOADING: "bold yellow", ev.TRAINING: "bold green", ev.PAUSED: "bold yellow",
    ev.STOPPED: "bold cyan", ev.FINISHED: "bold green", ev.FAILED: "bold red",
}


class RunHeader(Static):
    """Two lines (three when narrow), cropped with an ellipsis if still too long."""

    DEFAULT_CSS = """
    RunHeader { height: auto; text-wrap: nowrap; text-overflow: ellipsis; padding: 0 1; }
    """

    _lines = 0

    def show(self, s: DashboardState) -> None:
        text = render_header(s, max(20, self.size.width - 2))
        # A layout pass costs far more than a repaint; only a change of height needs one.
        lines = text.plain.count("\n") + 1
        self.update(text, layout=lines != self._lines)
        self._lines = lines


def render_header(s: DashboardState, width: int) -> Text:
    top = Text()
    top.append(f"● {s.state}", STATE_STYLE.get(s.state, "bold"))
    top.append(f" │ run {s.run_id or fmt.DASH} │ {s.device}")
    style = "red" if s.data.status == "error" else ("yellow" if s.data.status in ("empty", "seeding") else "")
    # Narrow terminals get the data source on a line of its own rather than cropped.
    top.append("\n" if top.cell_len + 3 + len(s.data.label) > width else " │ ")
    top.append(s.data.label, style)

    tail = f" │ {fmt.rate(s.samples_per_s)} samples/s │ {fmt.duration(s.elapsed_s)} │ ETA {fmt.duration(s.eta_s)}"
    bottom = Text()
    if s.state == ev.LOADING:
        total = f"/{s.load_total:,}" if s.load_total else ""
        frac = s.load_done / s.load_total if s.load_total else 0.0
        bottom.append(f"loading rows {s.load_done:,}{total} ")
        bottom.append(fmt.bar(frac, 12), "yellow")
    else:
        # The bar is the current epoch's progress, so it moves within a long epoch; the
        # epoch counter and the ETA give the run's progress.
        in_run = s.state in (ev.TRAINING, ev.PAUSED) and s.epochs_done < s.epochs
        live = in_run and s.steps > 0 and s.epoch > s.epochs_done
        if in_run:  # the epoch under way (0% until its first step report)
            shown, frac = s.epochs_done + 1, (s.epoch_fraction if live else 0.0)
        else:       # idle or ended: the last complete epoch, the bar the share of the run done
            shown, frac = s.epochs_done, (s.epochs_done / s.epochs if s.epochs else 0.0)
        label = f"epoch {shown}/{s.epochs} " if s.epochs else "epoch —/— "
        extra = ""
        if live and s.running_loss is not None:
            extra = f" loss {s.running_loss:.4f}"
            if width >= 100:
                extra = f" step {s.step}/{s.steps}" + extra
        # The bar takes what the text leaves (within limits), so 80 columns still fit.
        bar_w = max(6, min(30, width - len(label) - 5 - len(extra) - len(tail)))
        bottom.append(label)
        bottom.append(fmt.bar(frac, bar_w), "green" if s.state == ev.TRAINING else "")
        bottom.append(f" {100 * frac:3.0f}%{extra}")
    bottom.append(tail)
    top.append("\n")
    top.append_text(bottom)
    return top
