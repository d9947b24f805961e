"""The dashboard's header lines: state, run, device, data source, progress, speed and time."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.train import events as ev
from engine.train.runs import STALLED
from ionis_tui import fmt
from ionis_tui.dashboard_state import DashboardState, DataStatus

STATE_STYLE = {
    ev.IDLE: "dim", ev.LOADING: "bold yellow", ev.TRAINING: "bold green", ev.PAUSED: "bold yellow",
    ev.STOPPED: "bold cyan", ev.FINISHED: "bold green", ev.FAILED: "bold red",
    STALLED: "bold red",  # the trainer lives but does not move
}


class RunHeader(Static):
    """One line below WIDE columns, two above; cropped with an ellipsis if still too long."""

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


WIDE = 100  # from this width the header has room for two full lines


def render_header(s: DashboardState, width: int) -> Text:
    """Two lines from WIDE columns up; below that one line that drops the least useful parts
    first (device, data source, speed, running loss, elapsed, run id) so state, progress and ETA stay."""
    return _two_lines(s, width) if width >= WIDE else _one_line(s, width)


def _progress(s: DashboardState) -> tuple[str, float, float | None]:
    """(label, bar fraction, running loss or None) for the bar part of the header."""
    if s.state == ev.LOADING:
        total = f"/{s.load_total:,}" if s.load_total else ""
        return f"loading rows {s.load_done:,}{total}", (s.load_done / s.load_total if s.load_total else 0.0), None
    # The bar is the current epoch's progress, so it moves within a long epoch; the epoch
    # counter and the ETA give the run's progress.
    in_run = s.state in (ev.TRAINING, ev.PAUSED) and s.epochs_done < s.epochs
    if not in_run:  # idle or ended: epochs complete, the bar the share of the run done
        # "epoch 3/30" after a stop in epoch 4 read as if epoch 3 were under way.
        frac = s.epochs_done / s.epochs if s.epochs else 0.0
        return (f"{s.epochs_done}/{s.epochs} done" if s.epochs else "epoch —/—"), frac, None
    live = s.steps > 0 and s.epoch > s.epochs_done  # the epoch under way (0% until its first step)
    return (f"epoch {s.epochs_done + 1}/{s.epochs}", s.epoch_fraction if live else 0.0,
            s.running_loss if live else None)


def _bar_style(s: DashboardState) -> str:
    return "yellow" if s.state == ev.LOADING else ("green" if s.state == ev.TRAINING else "")


def _one_line(s: DashboardState, width: int) -> Text:
    label, frac, loss = _progress(s)
    # (drop order, text): the lowest number goes first when the line is too long; None stays.
    # Unknown figures (no run yet) are left out rather than shown as dashes, which leaves the
    # data source room when idle; while training it gives way to the run's own figures.
    known = lambda x, text: text if x is not None else ""  # noqa: E731
    parts: list[tuple[float | None, str]] = [
        (None, f"● {s.state}"), (5, s.run_id or ""), (None, label), (None, "BAR"),
        (3, f"loss {loss:.4f}" if loss is not None else ""), (0, s.device),
        (2, known(s.samples_per_s, f"{fmt.rate(s.samples_per_s)}/s")), (1, s.data.label),
        (4, known(s.elapsed_s, fmt.duration(s.elapsed_s))), (None, known(s.eta_s, f"ETA {fmt.duration(s.eta_s)}"))]
    if not s.epochs and s.state != ev.LOADING:  # no run yet: no progress to show
        parts = [p for p in parts if p[1] not in (label, "BAR")]
    parts = [p for p in parts if p[1]]
    while len(_join(s, parts, label, frac, 4)) > width and any(r is not None for r, _ in parts):
        parts.remove(min((p for p in parts if p[0] is not None), key=lambda p: p[0]))
    bar_w = max(4, min(20, 4 + width - len(_join(s, parts, label, frac, 4))))
    out = _join(s, parts, label, frac, bar_w)
    out.truncate(width, overflow="ellipsis")
    return out


def _join(s: DashboardState, parts: list, label: str, frac: float, bar_w: int) -> Text:
    """The parts with " │ " between them; the bar follows its label after one space."""
    out = Text()
    data_style = "red" if s.data.status == DataStatus.ERROR else ("yellow" if s.data.status in (DataStatus.EMPTY, DataStatus.SEEDING) else "")
    for i, (_, t) in enumerate(parts):
        if t == "BAR":
            out.append(" ")
            out.append(fmt.bar(frac, bar_w), _bar_style(s))
            out.append(f" {100 * frac:3.0f}%")
            continue
        if i:
            out.append(" │ ")
        style = STATE_STYLE.get(s.state, "bold") if i == 0 else (data_style if t == s.data.label else "")
        out.append(t, style)
    return out


def _two_lines(s: DashboardState, width: int) -> Text:
    top = Text()
    top.append(f"● {s.state}", STATE_STYLE.get(s.state, "bold"))
    top.append(f" │ run {s.run_id or fmt.DASH} │ {s.device}")
    style = "red" if s.data.status == DataStatus.ERROR else ("yellow" if s.data.status in (DataStatus.EMPTY, DataStatus.SEEDING) else "")
    # Narrow terminals get the data source on a line of its own rather than cropped.
    top.append("\n" if top.cell_len + 3 + len(s.data.label) > width else " │ ")
    top.append(s.data.label, style)

    tail = f" │ {fmt.rate(s.samples_per_s)} samples/s │ {fmt.duration(s.elapsed_s)} │ ETA {fmt.duration(s.eta_s)}"
    label, frac, loss = _progress(s)
    label += " "
    extra = ""
    if loss is not None:
        extra = f" loss {loss:.4f}"
        if width >= 100:
            extra = f" step {s.step}/{s.steps}" + extra
    # The bar takes what the text leaves (within limits).
    bar_w = max(6, min(30, width - len(label) - 5 - len(extra) - len(tail)))
    bottom = Text(label)
    bottom.append(fmt.bar(frac, bar_w), _bar_style(s))
    bottom.append(f" {100 * frac:3.0f}%{extra}")
    bottom.append(tail)
    top.append("\n")
    top.append_text(bottom)
    return top
