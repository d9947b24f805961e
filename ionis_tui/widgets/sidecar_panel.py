"""Health of the sun and storm sidecars: bias, clamp pinning, physical effect, gates.

A sidecar whose weights all sit at the clamp floor is dead (the published IONIS checkpoints'
sun sidecar is): its "effect" is then only the floor's arithmetic, so it gets a red warning."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ionis_tui import fmt

DEAD_SHARE = 0.999  # share of weights at the floor that means "all of them"


def dead_sidecars(m: dict[str, Any]) -> list[str]:
    return [name for name in ("sun", "storm")
            if m.get(f"{name}_pinned_low") is not None and float(m[f"{name}_pinned_low"]) >= DEAD_SHARE]


class SidecarPanel(Static):
    DEFAULT_CSS = """
    SidecarPanel { border: round $primary 50%; border-title-color: $text-muted; height: auto; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.border_title = "sidecars"
        self.border_subtitle = "effect: sun SFI 70→200, storm Kp 0→9"
        self.show({})

    def show(self, m: dict[str, Any]) -> None:
        self.update(render_sidecars(m))


def render_sidecars(m: dict[str, Any]) -> Group:
    """One row per sidecar (three lines, four with a dead one): fits 80x24 beside the plots."""
    t = Table(box=None, pad_edge=False, show_header=True, header_style="bold", expand=False)
    t.add_column("")
    for head in ("fc2.bias", "effect dB", "pinned lo/hi", "gate"):
        t.add_column(head, justify="right")
    for name in ("sun", "storm"):
        t.add_row(name, fmt.num(m.get(f"{name}_fc2_bias"), "+.3f"), fmt.num(m.get(f"{name}_effect_db"), "+.2f"),
                  f"{fmt.share(m.get(f'{name}_pinned_low'))}/{fmt.share(m.get(f'{name}_pinned_high'))}",
                  fmt.num(m.get(f"{name}_gate_mean"), ".3f"))
    parts: list[Any] = [t]
    for name in dead_sidecars(m):
        parts.append(Text(f"DEAD SIDECAR: {name} — all weights at the clamp floor", "bold white on red"))
    return Group(*parts)
