"""The heat-coloured SFI x Kp grid: a DataTable whose cell cursor moves with shift+arrows, so the
plain arrow keys stay free for the screen (hour and band steps)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.widgets import DataTable

# Colour stops blue (weak) -> pale yellow -> red (strong); a diverging ramp that reads the same
# for "low to high" and for "B better ... A better" around zero.
_STOPS = (
    (0.00, (49, 54, 149)), (0.25, (116, 173, 209)), (0.50, (255, 255, 191)),
    (0.75, (244, 109, 67)), (1.00, (165, 0, 38)),
)


def heat_rgb(t: float) -> tuple[int, int, int]:
    t = min(max(float(t), 0.0), 1.0)
    for (t0, c0), (t1, c1) in zip(_STOPS, _STOPS[1:], strict=False):
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            return tuple(round(a + (b - a) * f) for a, b in zip(c0, c1, strict=True))  # type: ignore[return-value]
    return _STOPS[-1][1]


def cell_style(t: float) -> Style:
    r, g, b = heat_rgb(t)
    dark = 0.299 * r + 0.587 * g + 0.114 * b < 140
    return Style(color="white" if dark else "black", bgcolor=f"rgb({r},{g},{b})")


def heat_positions(values: np.ndarray, centred: bool) -> np.ndarray:
    """Where each value sits on the colour ramp: min..max of the matrix, or symmetric around zero
    for a difference matrix (so zero is always the neutral middle colour)."""
    v = np.asarray(values, dtype=np.float64)
    if centred:
        m = float(np.max(np.abs(v))) if v.size else 0.0
        return np.full_like(v, 0.5) if m == 0 else 0.5 + 0.5 * v / m
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    return np.full_like(v, 0.5) if hi == lo else (v - lo) / (hi - lo)


class MatrixGrid(DataTable, inherit_bindings=False):
    """Rows = SFI, columns = Kp. Mouse click or shift+arrows select a cell."""

    BINDINGS = [
        Binding("shift+up", "cursor_up", "Cell", key_display="⇧↑↓←→"),
        Binding("shift+down", "cursor_down", "Cell down", show=False),
        Binding("shift+left", "cursor_left", "Cell left", show=False),
        Binding("shift+right", "cursor_right", "Cell right", show=False),
        Binding("enter", "select_cursor", "Select", show=False),
    ]

    DEFAULT_CSS = """
    MatrixGrid { height: auto; width: auto; max-width: 100%; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="cell", zebra_stripes=False, cell_padding=1, **kwargs)
        self._axes: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    def show(self, sfi: Sequence[float], kp: Sequence[float], values: np.ndarray, fmt: str,
             centred: bool = False, marked: set[tuple[int, int]] | frozenset = frozenset()) -> None:
        """Redraw every cell; the cursor stays where it is when the axes did not change.
        Marked cells (monotonicity violations) are drawn bold and underlined."""
        axes = (tuple(float(s) for s in sfi), tuple(float(k) for k in kp))
        pos = heat_positions(values, centred)

        def cell(i: int, j: int) -> Text:
            st = cell_style(pos[i, j])
            if (i, j) in marked:
                st = st + Style(bold=True, underline=True)
            return Text(fmt.format(float(values[i, j])), style=st, justify="right")

        if axes != self._axes:
            keep = self.cursor_coordinate
            self.clear(columns=True)
            for k in axes[1]:
                self.add_column(Text(f"Kp {k:g}" if k == axes[1][0] else f"{k:g}", justify="right"),
                                key=f"kp{k:g}")
            for i, s in enumerate(axes[0]):
                # SFI is the row label, so cursor columns are exactly the Kp columns
                self.add_row(*(cell(i, j) for j in range(len(axes[1]))), key=f"sfi{s:g}",
                             label=Text(f"{s:g}", style="bold", justify="right"))
            self._axes = axes
            if keep.row < len(axes[0]) and keep.column < len(axes[1]):
                self.cursor_coordinate = keep
            return
        for i in range(len(axes[0])):
            for j in range(len(axes[1])):
                self.update_cell_at(Coordinate(i, j), cell(i, j))

    @property
    def selected(self) -> tuple[int, int] | None:
        """(SFI index, Kp index) of the cursor; None before the first draw."""
        if self._axes is None:
            return None
        c = self.cursor_coordinate
        if c.row >= len(self._axes[0]) or c.column >= len(self._axes[1]):
            return None
        return c.row, c.column
