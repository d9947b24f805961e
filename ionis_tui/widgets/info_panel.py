"""Learning rates per group, best epoch with its validation metrics, checkpoint paths."""

from __future__ import annotations

import os

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from engine.train import events as ev
from ionis_tui import fmt
from ionis_tui.dashboard_state import DashboardState


class InfoPanel(Static):
    DEFAULT_CSS = """
    InfoPanel { border: round $primary 50%; border-title-color: $text-muted; height: auto; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.border_title = "run"

    def show(self, s: DashboardState) -> None:
        self.update(render_info(s))


def short_path(path: str) -> str:
    """Relative to the working folder when inside it: shorter, still unambiguous."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def render_info(s: DashboardState) -> Table:
    m = s.last
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(ratio=1)
    t.add_row("lr", f"trunk {fmt.num(m.get('lr_trunk'), '.1e')} · sidecar {fmt.num(m.get('lr_sidecar'), '.1e')}")
    t.add_row("gates", f"lr sun {fmt.num(m.get('lr_sun_scaler'), '.1e')} · storm {fmt.num(m.get('lr_storm_scaler', m.get('lr_scaler')), '.1e')}")  # lr_scaler: older runs
    b = s.best_row
    epoch = b.get("epoch", b.get("best_epoch"))
    if epoch is not None:
        t.add_row("best", f"epoch {epoch} · val loss {fmt.num(b.get('val_loss', b.get('best_val_loss')))} · "
                          f"Pearson {fmt.num(b.get('val_pearson'), '+.4f')} · "
                          f"RMSE {fmt.num(b.get('val_rmse_db'), '.2f')} dB ({fmt.num(b.get('val_rmse_sigma'), '.3f')}σ)")
    else:
        t.add_row("best", fmt.DASH)
    folder = short_path(s.run_dir) if s.run_dir else fmt.DASH
    t.add_row("folder", folder)
    if not s.checkpoint_files:
        t.add_row("ckpt", fmt.DASH)
    for path, (kind, when) in sorted(s.checkpoint_files.items()):
        inside = s.run_dir and os.path.dirname(path) == s.run_dir.rstrip("/")
        t.add_row(kind, f"{os.path.basename(path) if inside else short_path(path)} ({when})")
    if s.final_message and s.state in (ev.FAILED, ev.STOPPED):
        t.add_row("", Text(s.final_message, "red" if s.state == ev.FAILED else "cyan"))
    return t
